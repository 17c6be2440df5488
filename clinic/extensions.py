"""Hooks through which a higher app adds to a page of a lower one, so the lower app never imports it.

Apps depend one way (docs/architecture.md): the front desk's patient page lives in `bookings`, yet the course
plans it shows belong to `practice`; the review queue lives in `consultations`, yet the sessions needing
attention it lists are `bookings`' appointments. The lower page asks its `PageExtension` for extra context;
the higher app connects a provider in its `AppConfig.ready`. With the higher app removed, the page still
renders, without that part.
"""

from django.dispatch import Signal


class PageExtension:
    """Extra template context for one page, from whichever apps provide it."""

    def __init__(self, page: str):
        self.page = page
        self._signal = Signal()

    def connect(self, provider, *, dispatch_uid: str) -> None:
        """`provider(sender, **kwargs) -> dict`, called with the page's keyword arguments."""
        self._signal.connect(provider, dispatch_uid=dispatch_uid, weak=False)

    def context(self, **kwargs) -> dict:
        extra = {}
        for _receiver, provided in self._signal.send(sender=self.page, **kwargs):
            extra.update(provided or {})
        return extra


# A patient's copy of their data (`operations.patient_data`, UK GDPR access and portability). It lives in
# operations, in the top layer, and so do apps with data of their own about the patient (payments), which
# may not import operations: the seam is here, below both. A provider returns `{section name: plain values}`
# (str, numbers, dates, lists of dicts), called with `patient`; each section is added to the copy as it is.
PATIENT_DATA = PageExtension("a patient's data (export)")
