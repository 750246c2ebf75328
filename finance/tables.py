"""Tables as the Swiss desktop opens them: CSV separated by `;` in UTF-8 with a byte-order mark (Excel), and
XLSX written by openpyxl, where numbers stay numbers and dates stay dates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(header: list[str], rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(header: list[str], rows: Iterable[list], *, sheet: str) -> bytes:
    from openpyxl import Workbook  # loaded by the processes that export only

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet[:31]
    worksheet.append(header)
    for row in rows:
        worksheet.append([float(value) if isinstance(value, Decimal) else value for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
