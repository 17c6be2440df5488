"""Receipts and invoices as PDF, and the email that carries them.

The PDF is rendered from a Django template (templates/payments/document_pdf.html) by fpdf2's HTML writer:
fpdf2 is pure Python (Pillow and fontTools, already wheels), installs from PyPI with no system libraries,
and is actively maintained; WeasyPrint would need Pango and Cairo on the machine. Its core fonts cover
Latin-1 (which has '£'); a character outside it (a name in another script) is printed as '?', and the
on-screen pages show it as written.
"""

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone
from fpdf import FPDF

from .money import format_money, quantize

logger = logging.getLogger(__name__)


def vat_included(total: Decimal, rate_percent: Decimal | None) -> Decimal | None:
    """The VAT inside a VAT-inclusive total (20 % of the net: total x 20/120)."""
    if not rate_percent:
        return None
    return quantize(Decimal(total) * Decimal(rate_percent) / (100 + Decimal(rate_percent)))


def document_context(document) -> dict:
    payment = document.payment
    appointment = document.appointment
    if document.kind == document.Kind.INVOICE:
        title, line = (
            "Invoice",
            f"{appointment.treatment.name}, {timezone.localtime(appointment.start_at):%d %b %Y %H:%M}",
        )
    elif document.is_refund:
        title, line = "Refund receipt", f"Refund: {document.refund.reason}"
    else:
        title = "Receipt"
        line = f"{payment.get_purpose_display()} ({payment.get_method_display()})"
        if payment.patient_package_id:
            line = f"{payment.patient_package.package.name} ({payment.get_method_display()})"
        elif appointment is not None:
            line += f": {appointment.treatment.name}, {timezone.localtime(appointment.start_at):%d %b %Y %H:%M}"
    vat = vat_included(document.total, document.vat_rate_percent)
    return {
        "document": document,
        "title": title,
        "line": line,
        "total": format_money(document.total, document.currency),
        "vat": format_money(vat, document.currency) if vat is not None else "",
        "issued": timezone.localtime(document.issued_at),
        "patient_name": document.patient.full_name,
        "clinic": settings.CLINIC,
    }


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(document) -> bytes:
    html = render_to_string("payments/document_pdf.html", document_context(document))
    pdf = FPDF(format="A4")
    pdf.set_title(f"{document.get_kind_display()} {document.number}")
    pdf.set_creator(settings.CLINIC["NAME"])
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.write_html(_latin1(html))
    return bytes(pdf.output())


def filename(document) -> str:
    return f"{document.number}.pdf"


def email_document(document_id: int) -> bool:
    """After the issuing transaction commits: email the PDF to the patient (never to a placeholder address).
    A mail failure is logged; the document stays downloadable from the patient's payments page."""
    from .models import Document

    document = Document.objects.select_related("patient__user").filter(pk=document_id).first()
    if document is None or not document.patient.user.has_real_email:
        return False
    context = document_context(document)
    message = EmailMessage(
        subject=f"Your {context['title'].lower()} {document.number} from {settings.CLINIC['NAME']}",
        body=render_to_string("payments/email/document.txt", context),
        to=[document.patient.user.email],
    )
    message.attach(filename(document), render_pdf(document), "application/pdf")
    try:
        message.send()
    except Exception:  # noqa: BLE001 - any mail backend error: the payment stands, the PDF stays downloadable
        logger.exception("Could not email %s", document)
        return False
    Document.objects.filter(pk=document_id).update(emailed_at=timezone.now())
    return True
