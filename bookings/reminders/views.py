from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from bookings.models import AftercareCheckIn, Appointment
from bookings.reminders.forms import CheckInForm
from bookings.reminders.services import record_check_in
from clinic import access


@access.patient_required
def aftercare_check_in(request, appointment_id):
    """The short form the 3-day check-in email links to. Only the appointment's own patient sees it."""
    patient = request.patient
    appointment = get_object_or_404(
        Appointment.objects.select_related("treatment", "practitioner__user", "site"),
        pk=appointment_id,
        patient=patient,
    )
    form = CheckInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check_in = record_check_in(appointment, form.cleaned_data["answer"], form.cleaned_data["details"])
        if check_in.needs_attention:
            messages.warning(
                request,
                "Thank you. We have told your practitioner and the front desk; the clinic will contact you. "
                "If you feel unwell or have a fever, call us now.",
            )
        else:
            messages.success(request, "Thank you: that sounds normal. We have noted your answer.")
        return redirect("aftercare_check_in", appointment_id=appointment.pk)
    previous = AftercareCheckIn.objects.filter(appointment=appointment).first()
    return render(
        request,
        "reminders/check_in.html",
        {"form": form, "appointment": appointment, "previous": previous},
    )
