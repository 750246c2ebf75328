"""Time the deterministic part of supplier-invoice capture (finance.capture_qr) on generated documents.

Generates `--count` QR-bill PDFs (qrbill + WeasyPrint) and as many photo-like PNGs of them (150 dpi, turned
3.5°, JPEG-compressed), then prints median and p95 milliseconds per page for: rendering the pages, decoding
the QR codes alone, the whole `qr_bill_read`, and `qr_bill_read` followed by an OCR step. The OCR is FAKED:
the stand-in only encodes each page as a base64 PNG (what would be sent to OpenAI Vision), so the last line
measures the capture's own overhead, not OpenAI's latency.
"""

from __future__ import annotations

import base64
import io
import math
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from finance.capture_qr import SwissQrBill, document_pages, qr_bill_read, qr_payloads

PHOTO = {"dpi": 150, "angle": 3.5, "format": "PNG", "quality": 70}


def fake_ocr(page: Image.Image) -> str:
    """Stand-in for OpenAI Vision: the page as the base64 PNG a request would carry."""
    out = io.BytesIO()
    page.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def capture_with_ocr(data: bytes, ocr: Callable[[Image.Image], object]) -> tuple[SwissQrBill | None, list]:
    """The capture's deterministic part, then `ocr` on every page (rendered again, as the pipeline would)."""
    bill = qr_bill_read(data)
    return bill, [ocr(page) for page in document_pages(data)]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


class Command(BaseCommand):
    help = "Time QR-bill capture per page (render, QR decode, qr_bill_read, with a faked OCR) on generated documents."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=10, help="PDFs and photos to generate, each (default: 10).")

    def handle(self, *args, count: int, **options) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1.")
        try:
            from tests import capture_documents as docs
        except ImportError as error:  # pragma: no cover - a checkout always has tests/
            raise CommandError(f"The document generator tests/capture_documents.py is missing ({error}).") from None

        variants = [
            {},
            {"account": docs.IBAN, "reference": docs.SCOR_REFERENCE, "currency": "EUR", "billing": docs.BILLING},
            {"account": docs.IBAN, "reference": None, "amount": None, "debtor": None},
        ]
        documents: list[tuple[bytes, dict]] = []
        for index in range(count):
            arguments = {**variants[index % len(variants)], "message": f"Facture 2026-{index + 1:04d}"}
            if arguments.get("amount", "") is not None:
                arguments["amount"] = Decimal("1299.60") + index
            pdf = docs.qr_bill_pdf(**arguments)
            documents.append((pdf, arguments))
            documents.append((docs.photo(pdf, **PHOTO), arguments))

        timings: dict[str, list[float]] = {"render": [], "decode": [], "read": [], "ocr": []}
        failures = []
        page_count = 0
        for data, arguments in documents:
            started = time.perf_counter()
            pages = document_pages(data)
            rendered = time.perf_counter()
            qr_payloads(pages)
            decoded = time.perf_counter()
            bill = qr_bill_read(data)
            read = time.perf_counter()
            capture_with_ocr(data, fake_ocr)
            ocr_done = time.perf_counter()
            per_page = 1000 / len(pages)
            page_count += len(pages)
            timings["render"].append((rendered - started) * per_page)
            timings["decode"].append((decoded - rendered) * per_page)
            timings["read"].append((read - decoded) * per_page)
            timings["ocr"].append((ocr_done - read) * per_page)
            if not self._exact(bill, arguments, docs):
                failures.append(arguments["message"])

        self.stdout.write(
            f"Capture benchmark: {count} PDF and {count} photo (PNG, {PHOTO['dpi']} dpi, turned {PHOTO['angle']}°) "
            f"documents, {page_count} pages"
        )
        self.stdout.write(f"{'step':<28}{'median ms':>12}{'p95 ms':>10}")
        for label, key in (
            ("render page", "render"),
            ("QR decode", "decode"),
            ("qr_bill_read", "read"),
            ("qr_bill_read + faked OCR", "ocr"),
        ):
            values = timings[key]
            self.stdout.write(f"{label:<28}{statistics.median(values):>12.1f}{p95(values):>10.1f}")
        if failures:
            self.stdout.write(f"{len(failures)} of {len(documents)} documents were NOT read exactly: {failures}")
        else:
            self.stdout.write(f"All {len(documents)} documents read their QR-bill exactly.")
        self.stdout.write(
            "OCR is FAKED: the stand-in only encodes each page as base64 PNG (the OpenAI Vision request body); "
            "no network call is timed."
        )

    @staticmethod
    def _exact(bill: SwissQrBill | None, arguments: dict, docs) -> bool:
        if bill is None:
            return False
        amount = arguments.get("amount", Decimal("1299.60"))
        return (
            bill.iban == arguments.get("account", docs.QR_IBAN)
            and bill.reference == (arguments.get("reference", docs.QRR_REFERENCE) or "")
            and bill.amount == (Decimal(amount).quantize(Decimal("0.01")) if amount is not None else None)
            and bill.currency == arguments.get("currency", "CHF")
            and bill.message == arguments["message"]
        )
