"""Money pages: the patient's deposit step and payments, receipts as PDF, Stripe's webhook, the desk's till.

Views stay thin: forms read, `services` write (their refusals shown as they are), `selectors` read. The
till's forms sit on the desk's appointment and patient pages (rendered through bookings' hooks) and post
here; each action returns to the page it came from.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from bookings.models import Appointment
from clinic import access, roles
from clinic.access import patient_required
from clinic.models import Patient
from clinic.redirects import safe_next

from . import documents, selectors, services, webhooks
from .forms import ReasonForm, RefundForm, SellPackageForm, TakePaymentForm
from .models import Document, PatientPackage, Payment
from .money import format_money
from .providers import checkout_origin, stripe_configured

logger = logging.getLogger(__name__)


# --- the patient -----------------------------------------------------------------------------------


def _own_appointment(request, appointment_id) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related("treatment", "practitioner__user", "room__site"),
        pk=appointment_id,
        patient=request.patient,
    )


@patient_required
@require_http_methods(["GET", "POST"])
def deposit(request, appointment_id):
    """The deposit step: the amount and the cancellation policy, then one button to Stripe's page."""
    appointment = _own_appointment(request, appointment_id)
    payment = selectors.pending_deposit(appointment)
    if appointment.status != Appointment.Status.AWAITING_DEPOSIT or payment is None:
        return redirect("appointment_detail", appointment.pk)
    if request.method == "POST":
        here = request.build_absolute_uri(reverse("payments:deposit", args=[appointment.pk]))
        back = request.build_absolute_uri(reverse("payments:deposit_return", args=[appointment.pk]))
        try:
            url = services.checkout_url_for(appointment, success_url=back, cancel_url=here)
        except services.PaymentError as error:
            messages.error(request, error.message)
        else:
            return redirect(url)
    response = render(
        request,
        "payments/deposit.html",
        {
            "appointment": appointment,
            "payment": payment,
            "amount": format_money(payment.amount, payment.currency),
            "policy": services.policy_text(),
        },
    )
    # The button's form posts here and is redirected to Stripe's page: browsers hold a form's redirects to
    # the page's form-action too, so this one page also allows Stripe's checkout origin.
    response._csp_update = {"form-action": [checkout_origin()]}
    return response


@patient_required
def deposit_return(request, appointment_id):
    """Where Stripe sends the patient back. The redirect proves nothing: only the webhook confirms, so this
    page says what the webhook has said so far."""
    appointment = _own_appointment(request, appointment_id)
    if appointment.status != Appointment.Status.AWAITING_DEPOSIT:
        if appointment.status == Appointment.Status.BOOKED:
            messages.success(request, "Your deposit is paid and your appointment is confirmed.")
        return redirect("appointment_detail", appointment.pk)
    return render(request, "payments/deposit_return.html", {"appointment": appointment})


@patient_required
def my_payments(request):
    patient = request.patient
    return render(
        request,
        "payments/mine.html",
        {
            "payments": selectors.patient_payments(patient),
            "packages": selectors.patient_packages(patient),
            "documents": selectors.patient_documents(patient),
        },
    )


@login_required
def document_pdf(request, pk):
    """A receipt or invoice: the patient it is for, the desk and clinic admins; anyone else is told it does
    not exist."""
    document = get_object_or_404(
        Document.objects.select_related(
            "patient__user",
            "payment__patient_package__package",
            "refund",
            "appointment__treatment",
            "appointment__room__site",
        ),
        pk=pk,
    )
    patient = access.patient_of(request.user)
    if not ((patient is not None and patient.pk == document.patient_id) or access.is_desk(request.user)):
        raise Http404("No such document.")
    response = HttpResponse(documents.render_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.filename(document)}"'
    return response


# --- Stripe ----------------------------------------------------------------------------------------


@csrf_exempt
def stripe_webhook(request):
    """Signed by Stripe, so no CSRF token: the signature is the proof. 400 for anything unverified."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not stripe_configured():
        raise Http404("Online payments are not set up.")
    try:
        event = webhooks.verify(request.body, request.headers.get("Stripe-Signature", ""))
        outcome = webhooks.handle(event)
    except webhooks.BadEvent:
        return HttpResponseBadRequest("Invalid webhook.")
    return JsonResponse({"received": True, "outcome": outcome})


# --- the desk's till ---------------------------------------------------------------------------------


def _back(request, patient_id) -> str:
    return safe_next(request, reverse("desk:patient", args=[patient_id]))


def _refused(request, error: services.PaymentError, patient_id):
    messages.error(request, f"Not done: {error.message}")
    return redirect(_back(request, patient_id))


@access.desk_required
@require_POST
def desk_take(request, patient_id):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = TakePaymentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the amount, the method and the note: nothing was taken.")
        return redirect(_back(request, patient.pk))
    data = form.cleaned_data
    amount = format_money(data["amount"], settings.PAYMENTS["CURRENCY"])
    appointment = None
    if data["appointment"]:
        appointment = Appointment.objects.filter(pk=data["appointment"], patient=patient).first()
        if appointment is None:
            messages.error(request, "That appointment is not this patient's: nothing was taken.")
            return redirect(_back(request, patient.pk))
    try:
        if data["method"] == Payment.Method.WAIVED:
            services.waive_charge(
                patient=patient, amount=data["amount"], by=request.user, reason=data["note"], appointment=appointment
            )
            messages.success(request, f"Waived {amount} for {patient.full_name}.")
        else:
            services.take_desk_payment(
                patient=patient,
                amount=data["amount"],
                method=data["method"],
                by=request.user,
                appointment=appointment,
                note=data["note"],
            )
            messages.success(request, f"Took {amount} from {patient.full_name}.")
    except services.PaymentError as error:
        return _refused(request, error, patient.pk)
    return redirect(_back(request, patient.pk))


@access.desk_required
@require_POST
def desk_sell_package(request, patient_id):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = SellPackageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a package and how it is paid: nothing was sold.")
        return redirect(_back(request, patient.pk))
    try:
        bought = services.sell_package(
            patient=patient, package=form.cleaned_data["package"], method=form.cleaned_data["method"], by=request.user
        )
    except services.PaymentError as error:
        return _refused(request, error, patient.pk)
    messages.success(request, f"Sold {bought.package.name} to {patient.full_name}.")
    return redirect(_back(request, patient.pk))


@access.desk_required
@require_POST
def desk_refund(request, pk):
    payment = get_object_or_404(Payment, pk=pk)
    form = RefundForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the amount and a reason: nothing was refunded.")
        return redirect(_back(request, payment.patient_id))
    try:
        services.refund_payment(
            payment=payment, amount=form.cleaned_data["amount"], by=request.user, reason=form.cleaned_data["reason"]
        )
    except services.PaymentError as error:
        return _refused(request, error, payment.patient_id)
    messages.success(request, f"Refund of {format_money(form.cleaned_data['amount'], payment.currency)} recorded.")
    return redirect(_back(request, payment.patient_id))


@access.desk_required
@require_POST
def desk_waive_fee(request, pk):
    payment = get_object_or_404(Payment, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for waiving the fee: nothing was changed.")
        return redirect(_back(request, payment.patient_id))
    try:
        services.waive_fee(payment=payment, by=request.user, reason=form.cleaned_data["reason"])
    except services.PaymentError as error:
        return _refused(request, error, payment.patient_id)
    messages.success(request, "Fee waived: the deposit is being refunded.")
    return redirect(_back(request, payment.patient_id))


@access.desk_required
@require_POST
def desk_invoice(request, pk):
    appointment = get_object_or_404(Appointment.objects.select_related("patient"), pk=pk)
    try:
        invoice = services.issue_invoice(appointment=appointment, by=request.user)
    except services.PaymentError as error:
        return _refused(request, error, appointment.patient_id)
    messages.success(request, f"Invoice {invoice.number} issued and emailed to the patient.")
    return redirect(safe_next(request, reverse("desk:appointment", args=[appointment.pk])))


@access.desk_required
@require_POST
def desk_package_refund(request, pk):
    bought = get_object_or_404(PatientPackage, pk=pk)
    if not roles.is_clinic_admin(request.user):
        raise PermissionDenied("Only a clinic admin can refund a package.")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the refund: nothing was refunded.")
        return redirect(_back(request, bought.patient_id))
    try:
        refund = services.refund_package_pro_rata(
            patient_package=bought, by=request.user, reason=form.cleaned_data["reason"]
        )
    except services.PaymentError as error:
        return _refused(request, error, bought.patient_id)
    amount = format_money(refund.amount, refund.currency) if refund else "nothing (no sessions left)"
    messages.success(request, f"Package closed; refunded {amount}.")
    return redirect(_back(request, bought.patient_id))
