"""URLs worked out once per process: `reverse` costs some 60 Python calls, and a page asks for the same few
on every request (the booking page's own links, the navigation's).

A URL depends on the URL configuration and the script prefix the app is served under, which the key holds
(`url_state`); any change of settings (tests) forgets them all.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf, reverse

KEPT_AT_MOST = 5000  # one a treatment for each booking link: forgotten all at once beyond
_kept: dict = {}


def url_state() -> tuple:
    """What a reversed URL depends on besides its name and arguments."""
    return (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())


def reverse_kept(viewname: str, *args) -> str:
    """reverse(viewname, args=args), once per process for each (strings and numbers as arguments)."""
    key = (viewname, args, *url_state())
    found = _kept.get(key)
    if found is None:
        if len(_kept) >= KEPT_AT_MOST:
            _kept.clear()
        found = _kept[key] = reverse(viewname, args=args)
    return found


def forget(**kwargs) -> None:
    _kept.clear()


setting_changed.connect(forget, dispatch_uid="clinic.kept_urls.forget")
