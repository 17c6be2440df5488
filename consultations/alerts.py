"""The clinical alert banner: everything a practitioner must see before deciding what to do with a patient.

One home for what the banner holds, per patient:
- the **screening flags** of the health form's current version that need a practitioner (block, review);
- the **washouts** still running (a flag with an end date today or later: "isotretinoin until 3 June");
- the **conditions** of the clearance in force (the structured limits and the free text);
- the **alerts practitioners pinned** and have not unpinned ("pacemaker: no RF").

`banners(patient_ids)` reads them for any number of patients in three queries (My day reads one per row);
`banner(patient)` is the same for one. The texts are clinical: only practitioners and clinic admins see a
banner (the include `consultations/includes/alert_banner.html`). The front desk learns only that a
patient has one (`Banner.exists`), shown as "Alert: see practitioner", never what it says.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone

from .models import PinnedAlert, Review, ScreeningFlag
from .models import ScreeningRule as Rule


@dataclass
class Banner:
    flags: list = field(default_factory=list)  # ScreeningFlag needing a practitioner, most serious first
    washouts: list = field(default_factory=list)  # ScreeningFlag with a washout still running
    conditions: Review | None = None  # the clearance in force, when cleared with conditions
    pinned: list = field(default_factory=list)  # PinnedAlert still pinned, newest first

    @property
    def exists(self) -> bool:
        return bool(self.flags or self.washouts or self.conditions or self.pinned)


def banners(patient_ids, today: datetime.date | None = None, *, read=None) -> dict[int, Banner]:
    """{patient id: Banner} for every id given (an empty banner when there is nothing). Three queries; one
    with `read`, the patients' flags of their forms' current versions and their reviews (latest first, with
    the reviewer), each with `patient_pk`, when the caller has read them already
    (`consultations.selectors.screening_and_alerts`)."""
    today = today or timezone.localdate()
    ids = set(patient_ids)
    result = {pk: Banner() for pk in ids}
    if not ids:
        return result
    if read is None:
        of_patients = {"intake__patient_id__in": ids}
        current = ScreeningFlag.objects.filter(**of_patients, intake_version=F("intake__version"))
        reviews = Review.objects.filter(**of_patients).annotate(patient_pk=F("intake__patient_id"))
        read = (
            current.annotate(patient_pk=F("intake__patient_id")),
            reviews.select_related("reviewer").order_by("-decided_at", "-pk"),
        )
    current, reviews = read
    rank = {str(severity): value for severity, value in Rule.SEVERITY_RANK.items()}
    for flag in sorted(current, key=lambda f: (-rank[f.severity], f.pk)):
        if flag.until is not None and flag.until >= today:
            result[flag.patient_pk].washouts.append(flag)
        elif flag.is_serious:
            result[flag.patient_pk].flags.append(flag)
    seen = set()
    for review in reviews:
        if review.patient_pk in seen:  # the latest decision only: a later one ends an earlier clearance
            continue
        seen.add(review.patient_pk)
        if review.decision == Review.Decision.CLEARED_WITH_CONDITIONS and review.is_current_clearance(today):
            result[review.patient_pk].conditions = review
    for alert in PinnedAlert.objects.filter(patient_id__in=ids, unpinned_at__isnull=True).select_related("pinned_by"):
        result[alert.patient_id].pinned.append(alert)
    return result


def banner(patient, today: datetime.date | None = None) -> Banner:
    return banners([patient.pk], today)[patient.pk]


def patients_with_alerts(patient_ids, today: datetime.date | None = None) -> set[int]:
    """Which of these patients have a banner: all the front desk may know about it."""
    return {pk for pk, found in banners(patient_ids, today).items() if found.exists}


def unpinned_alerts(patient):
    """The alerts taken off the patient's banner, with who pinned and unpinned them and when, newest first."""
    return PinnedAlert.objects.filter(patient=patient, unpinned_at__isnull=False).select_related(
        "pinned_by", "unpinned_by"
    )
