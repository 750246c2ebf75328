"""Time the deterministic part of supplier-invoice capture (finance.capture_qr) on generated documents.

Generates `--count` QR-bill PDFs (qrbill + WeasyPrint), as many photo-like PNGs of them (150 dpi, turned
3.5°, JPEG-compressed) and as many PDFs without any QR code (the slow case: every fallback is tried), then
prints, for each kind, median and p95 milliseconds per page for: rendering the pages, decoding
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

GROUPS = {"pdf": "QR-bill PDF", "photo": "photo of it", "none": "PDF without QR"}
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
        # (group, document, the arguments its QR-bill was made from, or None for a document without one)
        documents: list[tuple[str, bytes, dict | None]] = []
        for index in range(count):
            arguments = {**variants[index % len(variants)], "message": f"Facture 2026-{index + 1:04d}"}
            if arguments.get("amount", "") is not None:
                arguments["amount"] = Decimal("1299.60") + index
            pdf = docs.qr_bill_pdf(**arguments)
            documents.append(("pdf", pdf, arguments))
            documents.append(("photo", docs.photo(pdf, **PHOTO), arguments))
            documents.append(("none", docs.plain_pdf(f"Invoice {index + 1} without a QR-bill"), None))

        steps = ("render", "decode", "read", "ocr")
        timings = {(group, step): [] for group in GROUPS for step in steps}
        failures = []
        for group, data, arguments in documents:
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
            for step, (begin, end) in zip(
                steps, [(started, rendered), (rendered, decoded), (decoded, read), (read, ocr_done)], strict=True
            ):
                timings[group, step].append((end - begin) * per_page)
            if not self._exact(bill, arguments, docs):
                failures.append(f"{group}: {arguments['message'] if arguments else 'no QR-bill'}")

        self.stdout.write(
            f"Capture benchmark, ms per page: {count} QR-bill PDFs (200 dpi), {count} photos of them "
            f"(PNG, {PHOTO['dpi']} dpi, turned {PHOTO['angle']}°), {count} PDFs without QR code"
        )
        self.stdout.write(f"{'step':<26}" + "".join(f"{title:>20}" for title in GROUPS.values()))
        self.stdout.write(f"{'':<26}" + f"{'median':>11}{'p95':>9}" * len(GROUPS))
        for label, step in (
            ("render page", "render"),
            ("QR decode", "decode"),
            ("qr_bill_read", "read"),
            ("qr_bill_read + faked OCR", "ocr"),
        ):
            cells = "".join(
                f"{statistics.median(timings[group, step]):>11.1f}{p95(timings[group, step]):>9.1f}" for group in GROUPS
            )
            self.stdout.write(f"{label:<26}{cells}")
        if failures:
            self.stdout.write(f"{len(failures)} of {len(documents)} documents were NOT read right: {failures}")
        else:
            self.stdout.write(f"All {len(documents)} documents read right (QR-bill fields exact, or none).")
        self.stdout.write(
            "OCR is FAKED: the stand-in only encodes each page as base64 PNG (the OpenAI Vision request body); "
            "no network call is timed."
        )

    @staticmethod
    def _exact(bill: SwissQrBill | None, arguments: dict | None, docs) -> bool:
        if bill is None or arguments is None:
            return bill is None and arguments is None
        amount = arguments.get("amount", Decimal("1299.60"))
        return (
            bill.iban == arguments.get("account", docs.QR_IBAN)
            and bill.reference == (arguments.get("reference", docs.QRR_REFERENCE) or "")
            and bill.amount == (Decimal(amount).quantize(Decimal("0.01")) if amount is not None else None)
            and bill.currency == arguments.get("currency", "CHF")
            and bill.message == arguments["message"]
        )
