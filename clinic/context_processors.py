from django.conf import settings


def clinic(request):
    """The clinic's name and contact details, for every template. What the navigation shows of the signed-in
    user's roles is worked out by `{% main_nav %}` (clinic/templatetags/chrome.py), only on pages that have it."""
    return {"CLINIC": settings.CLINIC}
