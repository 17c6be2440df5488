"""Receipts and invoices as PDF, and the email that carries them.

The PDF is rendered from a Django template (templates/payments/document_pdf.html) by fpdf2's HTML writer:
fpdf2 is pure Python (Pillow and fontTools, already wheels), installs from PyPI with no system libraries,
and is actively maintained; WeasyPrint would need Pango and Cairo on the machine. Its core fonts cover
Latin-1 (which has '£'); a character outside it (a name in another script) is printed as '?', and the
on-screen pages show it as written.

Each document owed to the patient by email is its own outbox entry (`Document.email_status`), sent after
the issuing transaction commits and retried by beat (`payments.tasks.send_due_document_emails`) exactly as
reminders and notices are.
"""

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from bookings.selectors import patient_site
from clinic import clock
from clinic.message_text import place
from clinic.notices import retry_delay

from .money import format_money, quantize

logger = logging.getLogger(__name__)


def vat_included(total: Decimal, rate_percent: Decimal | None) -> Decimal | None:
    """The VAT inside a VAT-inclusive total (20 % of the net: total x 20/120)."""
    if not rate_percent:
        return None
    return quantize(Decimal(total) * Decimal(rate_percent) / (100 + Decimal(rate_percent)))


def document_context(document) -> dict:
    """What a receipt or invoice shows. One for an appointment is headed with its site's name, address and
    contacts and gives the appointment's time on that site's clock (`clinic.message_text.place`); one for a
    package, with no appointment, with the patient's site (`bookings.selectors.patient_site`: their next or
    last appointment's, else the clinic's settings)."""
    payment = document.payment
    appointment = document.appointment
    site = appointment.site if appointment is not None else patient_site(document.patient)
    if document.kind == document.Kind.INVOICE:
        title, line = (
            "Invoice",
            f"{appointment.treatment.name}, {clock.local(appointment.start_at, site):%d %b %Y %H:%M}",
        )
    elif document.is_refund:
        title, line = "Refund receipt", f"Refund: {document.refund.reason}"
    else:
        title = "Receipt"
        line = f"{payment.get_purpose_display()} ({payment.get_method_display()})"
        if payment.patient_package_id:
            line = f"{payment.patient_package.package.name} ({payment.get_method_display()})"
        elif appointment is not None:
            line += f": {appointment.treatment.name}, {clock.local(appointment.start_at, site):%d %b %Y %H:%M}"
    vat = vat_included(document.total, document.vat_rate_percent)
    return {
        "document": document,
        "title": title,
        "line": line,
        "total": format_money(document.total, document.currency),
        "vat": format_money(vat, document.currency) if vat is not None else "",
        "issued": clock.local(document.issued_at, site),
        "patient_name": document.patient.full_name,
        "clinic": place(site),
    }


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(document) -> bytes:
    # Imported here, not at the top: fpdf2 brings fontTools (0.2 s of CPU), and this module is imported by every
    # process at start-up (payments' booking steps), though only a request for a PDF draws one.
    from fpdf import FPDF

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


def owe_email(document) -> None:
    """Called by the issuing transaction: the patient is owed this document by email (never a placeholder
    address). The row is the outbox entry; it is sent once that transaction commits."""
    if not document.patient.user.has_real_email:
        return
    type(document).objects.filter(pk=document.pk).update(
        email_status=document.Email.PENDING, email_next_attempt_at=document.issued_at
    )
    transaction.on_commit(lambda: send_document_email(document.pk))


def message_id(document) -> str:
    """The same Message-ID on every try of one document's email, as reminders have: a worker killed after
    the mail server took it and before the row was marked sends it again, and mail clients fold the two."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "clinic.example"
    return f"<document-{document.pk}-{document.kind}@{domain}>"


def send_document_email(document_id: int, now=None) -> str:
    """Email one owed document that is due, at most once, with the reminders' and notices' guarantees: the
    row is locked (`SKIP LOCKED`: a concurrent sender skips it) and marked sent in the transaction that
    hands the email over; a failure is recorded with a backoff (`clinic.notices.retry_delay`) and beat tries
    again until `REMINDER_MAX_ATTEMPTS`, after which it stays `failed` in the admin with its last error. The
    PDF stays downloadable from the patient's payments page whatever happens to the email."""
    from .models import Document

    now = now or timezone.now()
    with transaction.atomic():
        document = (
            Document.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("patient__user", "appointment__treatment", "appointment__room__site")
            .filter(pk=document_id, email_status=Document.Email.PENDING, email_next_attempt_at__lte=now)
            .first()
        )
        if document is None:
            return "skipped"
        if not document.patient.user.has_real_email:  # erased since it was issued: owed to nobody now
            document.email_status = Document.Email.NONE
            document.save(update_fields=["email_status"])
            return "skipped"
        context = document_context(document)
        message = EmailMessage(
            subject=f"Your {context['title'].lower()} {document.number} from {settings.CLINIC['NAME']}",
            body=render_to_string("payments/email/document.txt", context),
            to=[document.patient.user.email],
            headers={"Message-ID": message_id(document)},
        )
        message.attach(filename(document), render_pdf(document), "application/pdf")
        document.email_attempts += 1
        try:
            message.send()
        except Exception as error:  # noqa: BLE001 - any mail backend error: recorded and retried, never dropped
            document.email_last_error = f"{type(error).__name__}: {error}"[:2000]
            if document.email_attempts >= settings.REMINDER_MAX_ATTEMPTS:
                document.email_status = Document.Email.FAILED
                logger.error("%s: email failed for good: %s", document, document.email_last_error)
            else:
                document.email_next_attempt_at = now + retry_delay(document.email_attempts)
                logger.warning(
                    "%s: email failed (attempt %s), retried later: %s", document, document.email_attempts, error
                )
        else:
            document.email_status, document.emailed_at, document.email_last_error = (
                Document.Email.SENT,
                timezone.now(),
                "",
            )
        document.save(
            update_fields=["email_status", "email_attempts", "email_last_error", "email_next_attempt_at", "emailed_at"]
        )
        return document.email_status


def send_due_document_emails(now=None, limit: int = 100) -> int:
    """Run by beat every minute: every owed document email whose time has come. Returns how many went out."""
    from .models import Document

    now = now or timezone.now()
    due = Document.objects.filter(email_status=Document.Email.PENDING, email_next_attempt_at__lte=now)
    ids = list(due.order_by("email_next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(1 for document_id in ids if send_document_email(document_id, now) == "sent")
