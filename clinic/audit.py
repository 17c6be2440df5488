"""The audit trail: who created, changed, deleted or read which record, about which patient.

Changes are recorded by django-auditlog for the models in AUDITED_MODELS; reads of clinical records by
`record_access`. Every entry carries the patient it concerns (`additional_data["patient_id"]`), so an
admin can list everything that happened to one patient's data (admin: Audit trail, `?patient=<id>`, linked
from each patient's row), or everything one user did (the actor filter). Entries
cannot be changed or deleted through the app (see clinic/admin.py).
"""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

# Model label -> fields left out of the change diff (secrets, or noise that would bury the story).
AUDITED_MODELS = {
    "clinic.User": ["password", "last_login"],
    "clinic.Patient": [],
    "clinic.ErasureRequest": [],
    "bookings.Appointment": ["updated_at"],
    "consultations.IntakeForm": ["updated_at"],
    "consultations.Review": [],
    "consultations.PinnedAlert": [],
    "practice.SessionRecord": ["updated_at"],
    "practice.SessionArea": [],
    "practice.SessionPhoto": [],
    "practice.PhotoConsent": [],
    "practice.CoursePlan": ["updated_at"],
}


def register_audited_models() -> None:
    for label, exclude in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, include_fields=audited_fields(model, exclude))
        if getattr(model, "get_additional_data", patient_of_entry) is not patient_of_entry:
            raise ImproperlyConfigured(f"{label} has a get_additional_data of its own: the patient would be lost")
        model.get_additional_data = patient_of_entry


def patient_of_entry(instance) -> dict | None:
    """The patient an audited model's entry is about, in the entry as it is inserted: django-auditlog asks
    the model's `get_additional_data()` when it creates an entry. (It was added by a `post_log` receiver
    that saved each entry a second time: an UPDATE for every audited write, a booking's and a health
    form's included.)"""
    patient_id = patient_id_of(instance)
    return {"patient_id": patient_id} if patient_id is not None else None


def audited_fields(model, exclude) -> list[str]:
    """The model's own columns, less `exclude`. django-auditlog's entry for a creation or a deletion takes
    every field `_meta.get_fields()` gives, reverse relations too: an appointment's creation recorded
    "reminders", "payments", "events" (and five more) with a related manager's name as the value
    ("bookings.Reminder.None"), and asked the database for each reverse one-to-one of the row (a user's
    patient and practitioner). Named here, an entry holds what the row holds, as a change's entry did."""
    return [field.name for field in model._meta.concrete_fields if field.name not in exclude]


def patient_id_of(instance):
    """The patient a record is about, found the same way for every model: a Patient is its own; a record
    with a patient (appointments, intakes) names it; a record of an appointment or intake inherits it."""
    if instance._meta.label == "clinic.Patient":
        return instance.pk
    if instance._meta.label == "clinic.User":
        return getattr(getattr(instance, "patient", None), "pk", None)
    if getattr(instance, "patient_id", None):
        return instance.patient_id
    for parent in ("appointment", "intake", "session_record"):
        related = getattr(instance, parent, None)
        if related is not None and getattr(related, "patient_id", None):
            return related.patient_id
    return None


def record_access(user, instance, *, what: str = "") -> LogEntry:
    """Write down that `user` was shown `instance` (an intake, a session record, a photo)."""
    return LogEntry.objects.log_create(
        instance,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=user if getattr(user, "is_authenticated", False) else None,
        changes={"viewed": what} if what else {},
        additional_data={"patient_id": patient_id_of(instance)},
    )


def trail_for_patient(patient_id):
    return LogEntry.objects.filter(additional_data__patient_id=patient_id).select_related("actor", "content_type")


def record_accesses(user, instances, *, what: str = "") -> None:
    """`record_access` for many records shown on one page, in one insert (a page's query count stays flat)."""
    from django.contrib.contenttypes.models import ContentType

    actor = user if getattr(user, "is_authenticated", False) else None
    LogEntry.objects.bulk_create(
        LogEntry(
            content_type=ContentType.objects.get_for_model(instance),
            object_pk=str(instance.pk),
            object_id=instance.pk,
            object_repr=str(instance)[:2000],
            action=LogEntry.Action.ACCESS,
            actor=actor,
            changes={"viewed": what} if what else {},
            additional_data={"patient_id": patient_id_of(instance)},
        )
        for instance in instances
    )
