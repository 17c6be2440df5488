"""Who may see or do what: every such rule of the clinic, in one module.

In `clinic`, the lowest app, so that every app (consultations' intake pages, bookings, practice, the API, the
admin) asks the same functions. Rules that depend on appointments (a practitioner's own patients) read them
through the relations `Patient.appointments` and `Practitioner.appointments` that bookings declares, never by
importing bookings (apps depend one way: docs/architecture.md).
"""

from clinic.models import Patient, Practitioner

# bookings.Appointment.Status.CANCELLED: a cancelled appointment makes no relation between a practitioner and a
# patient. Written here as the stored value (tests/test_architecture.py checks the two agree).
CANCELLED_APPOINTMENT = "cancelled"


def patients_of(practitioner):
    """The patients a practitioner is related to: those with a (non-cancelled) appointment with them, past or
    future. The relation behind every 'their own patients' check, pages and admin alike."""
    appointments = practitioner.appointments.exclude(status=CANCELLED_APPOINTMENT)
    return Patient.objects.filter(pk__in=appointments.values("patient_id"))


def practitioners_of(patient):
    """The practitioners a patient is related to: the same relation as `patients_of`, seen from the patient."""
    appointments = patient.appointments.exclude(status=CANCELLED_APPOINTMENT)
    return Practitioner.objects.filter(pk__in=appointments.values("practitioner_id"))
