"""Using a signed link: the one write behind every link in a message (the rules are in bookings/links.py)."""

from django.db import transaction
from django.utils import timezone

from bookings import services
from bookings.links import MESSAGES, Action, LinkRefused, check_link
from bookings.models import SignedLink
from clinic import locks


def use_link(token: str, now=None) -> SignedLink:
    """Use the link once and do what it is for (confirm, cancel) in one transaction; sign-in links are only
    marked used here (the view signs the patient in). Raises LinkRefused and changes nothing when it may not
    be used, or when the booking service refuses the action (e.g. too close to the start to cancel)."""
    now = now or timezone.now()
    link = check_link(token, now)
    with transaction.atomic():
        locks.lock_patient(link.patient)  # lock order: the patient first (clinic.locks)
        if not SignedLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
            raise LinkRefused("used", MESSAGES["used"], link)
        link.used_at = now
        user = link.patient.user
        try:
            if link.action == Action.CONFIRM:
                services.confirm_appointment(link.appointment, by=user, via="link")
            elif link.action == Action.CANCEL:
                services.cancel_appointment(link.appointment, by=user, reason="Cancelled by the patient from a link")
        except services.BookingError as error:
            raise LinkRefused("refused", f"{error} Nothing has been changed.", link) from error
    return link
