from django.conf import settings

from . import roles


class StaffIdleTimeoutMiddleware:
    """Staff sessions expire after a short idle time; every request of theirs pushes the expiry back.

    Staff screens show health data and are often shared desks: a forgotten session must not stay open for
    the two weeks a patient's may.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and (user.is_staff or roles.is_staff_member(user)):
            request.session.set_expiry(settings.STAFF_IDLE_TIMEOUT_SECONDS)
        return self.get_response(request)
