"""The front desk's one door to the intake's screening status: a status, never the answers behind it.

The rule lives in `consultations.selectors`; this adapter only asks it. Pages that show many patients at
once (the calendar, the day sheet) ask for all of them in one call, so the cost does not grow with the
number of appointments: when consultations offers a bulk `screening_statuses(patients)`, it is used;
without the consultations app the status is 'unknown'.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class UnknownStatus:
    code: str = "unknown"
    label: str = "Screening unknown"
    tone: str = "secondary"

    @property
    def is_cleared(self) -> bool:
        return False

    def __str__(self):
        return self.label


UNKNOWN = UnknownStatus()


def _selectors():
    try:
        from consultations import selectors
    except ImportError:
        return None
    return selectors


def screening_status(patient):
    """The patient's screening status (cleared, pending, flagged...), or UNKNOWN."""
    selectors = _selectors()
    if selectors is None or not hasattr(selectors, "screening_status"):
        return UNKNOWN
    return selectors.screening_status(patient)


def screening_statuses(patients) -> dict:
    """{patient id: status} for many patients, in a fixed number of queries when consultations offers a
    bulk selector."""
    patients = {patient.pk: patient for patient in patients}
    selectors = _selectors()
    if selectors is None:
        return dict.fromkeys(patients, UNKNOWN)
    if hasattr(selectors, "screening_statuses"):
        found = selectors.screening_statuses(list(patients.values()))
        return {pk: found.get(pk, UNKNOWN) for pk in patients}
    return {pk: screening_status(patient) for pk, patient in patients.items()}
