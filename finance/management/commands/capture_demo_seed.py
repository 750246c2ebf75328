"""Demo mode: a few supplier documents waiting in "Documents reçus", received as a person would upload them.

Per company with suppliers: an invoice of a known provider (QR-IBAN, QR reference, two VAT rates), one of a
supplier the Hub does not know yet (creditor reference) and a phone photo of a third invoice. Each goes
through the capture service, so the worker reads it (QR payment part, then the OpenAI sandbox) once the Hub
runs. Companies that received documents already are left alone.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone
from PIL import Image

from finance.capture_demo import DemoLine, DemoSupplierInvoice, supplier_invoice_pdf
from finance.capture_qr import document_pages
from finance.models import Company, Role, Supplier, SupplierInvoiceCapture
from finance.qrbill import Address, creditor_reference, qr_reference
from finance.services.capture import capture_receive

NEW_SUPPLIERS = {
    "HV": Address("Imprimerie du Lac SA", "Route de la Glâne", "21", "1700", "Fribourg", "CH"),
    "DA": Address("Papeterie Sarine Sàrl", "Rue de Lausanne", "45", "1700", "Fribourg", "CH"),
}
NEW_SUPPLIER_UID = "CHE-106.017.086"
NEW_SUPPLIER_IBAN = "CH6600235000706901400"
# A photo as a phone takes it: 150 dpi, turned a little, JPEG-compressed.
PHOTO_DPI = 150
PHOTO_ANGLE = 2.5


def _address(supplier: Supplier) -> Address:
    return Address(supplier.name, supplier.street, supplier.building_number, supplier.postal_code, supplier.town,
                   supplier.country)  # fmt: skip


def _photo(pdf: bytes) -> bytes:
    page = document_pages(pdf, dpi=PHOTO_DPI, max_pages=1)[0]
    turned = page.rotate(PHOTO_ANGLE, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(120, 116, 110))
    out = io.BytesIO()
    turned.save(out, "JPEG", quality=80)
    return out.getvalue()


class Command(BaseCommand):
    help = "Demo mode: supplier documents waiting to be checked in Documents reçus (read by the worker)."

    def handle(self, *args, **options) -> None:
        today = timezone.localdate()
        for company in Company.objects.order_by("code"):
            suppliers = list(Supplier.objects.filter(company=company, country="CH").order_by("pk")[:4])
            if len(suppliers) < 3 or company.code not in NEW_SUPPLIERS:
                continue
            if SupplierInvoiceCapture.objects.filter(company=company).exists():
                self.stdout.write(f"  {company.code}: documents received already")
                continue
            clerk = self._clerk(company)
            for filename, data in self._documents(company, suppliers, today):
                capture_receive(company=company, data=data, filename=filename, received_by=clerk)
            self.stdout.write(f"  {company.code}: 3 supplier documents received, to be read by the worker")

    def _clerk(self, company: Company):
        users = get_user_model().objects.filter(memberships__company=company).order_by("pk")
        return users.filter(memberships__role=Role.FINANCE).first() or users.filter(memberships__role=Role.CEO).first()

    def _documents(self, company: Company, suppliers: list[Supplier], today: dt.date) -> list[tuple[str, bytes]]:
        debtor = Address(company.legal_name[:70], company.street, company.building_number, company.postal_code,
                         company.town, company.country)  # fmt: skip
        known = next((s for s in suppliers if s.has_qr_iban), suppliers[0])
        photographed = next(s for s in suppliers if s != known and not s.has_qr_iban)
        issued = today - dt.timedelta(days=3)
        known_invoice = DemoSupplierInvoice(
            supplier=_address(known), uid=known.che_uid, number=f"{today:%Y}-{4100 + company.pk}",
            invoice_date=issued, due_date=issued + dt.timedelta(days=30), iban=known.iban,
            reference=qr_reference(f"{company.pk}{today:%Y%m%d}") if known.has_qr_iban else "", debtor=debtor,
            lines=(DemoLine("Pose et raccordement, 3 jours", Decimal("2400.00"), Decimal("8.1")),
                   DemoLine("Documentation technique", Decimal("180.00"), Decimal("2.6"))),
        )  # fmt: skip
        new_invoice = DemoSupplierInvoice(
            supplier=NEW_SUPPLIERS[company.code], uid=NEW_SUPPLIER_UID, number=f"F-{today:%y}{company.pk:03d}",
            invoice_date=issued, due_date=issued + dt.timedelta(days=20), iban=NEW_SUPPLIER_IBAN,
            reference=creditor_reference(f"{company.code}{today:%y%m%d}"), debtor=debtor,
            lines=(DemoLine("Brochures A5, 500 ex.", Decimal("860.00"), Decimal("8.1")),
                   DemoLine("Livres pour la bibliothèque", Decimal("95.00"), Decimal("2.6"))),
        )  # fmt: skip
        photo_invoice = DemoSupplierInvoice(
            supplier=_address(photographed), uid=photographed.che_uid, number=f"T-{today:%m%d}-{company.pk}",
            invoice_date=issued, due_date=issued + dt.timedelta(days=30), iban=photographed.iban, reference="",
            debtor=debtor, lines=(DemoLine("Transport et livraison", Decimal("640.00"), Decimal("8.1")),),
        )  # fmt: skip
        return [
            (f"facture-{known_invoice.number}.pdf", supplier_invoice_pdf(known_invoice)),
            (f"{new_invoice.number}.pdf", supplier_invoice_pdf(new_invoice)),
            (f"IMG_{today:%Y%m%d}_{company.pk:04d}.jpg", _photo(supplier_invoice_pdf(photo_invoice))),
        ]
