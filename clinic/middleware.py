import time

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from . import locks, roles


class StaffIdleTimeoutMiddleware:
    """Staff sessions expire after a short idle time; their requests push the expiry back.

    Staff screens show health data and are often shared desks: a forgotten session must not stay open for
    the two weeks a patient's may. The expiry is pushed back at most once a minute (REFRESH_SECONDS): pushing
    it saves the session (a row written, and Redis's copy dropped, clinic/sessions.py), which every staff
    request did. So a session ends between STAFF_IDLE_TIMEOUT_SECONDS less a minute and
    STAFF_IDLE_TIMEOUT_SECONDS after its last request: never later.
    """

    REFRESH_SECONDS = 60
    REFRESHED_AT = "_staff_expiry_pushed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and (user.is_staff or roles.is_staff_member(user)):
            session, now = request.session, int(time.time())
            if now - session.get(self.REFRESHED_AT, 0) >= self.REFRESH_SECONDS or session.get_expiry_age() > (
                settings.STAFF_IDLE_TIMEOUT_SECONDS
            ):  # a minute since it was pushed, or a session signed in with a patient's two weeks
                session.set_expiry(settings.STAFF_IDLE_TIMEOUT_SECONDS)
                session[self.REFRESHED_AT] = now
        return self.get_response(request)


class BusyMiddleware:
    """A write that waited longer than BOOKING_LOCK_TIMEOUT_MS for a row someone else holds (`clinic.locks.Busy`)
    answers 409 "try again in a moment", never a 500; its transaction rolled back, so nothing changed. Pages
    that expect it (booking) say so in place; this is the answer everywhere else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, locks.Busy):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": exception.message}, status=409)
        return render(request, "409.html", {"message": exception.message}, status=409)
