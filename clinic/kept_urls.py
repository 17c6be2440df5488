"""URLs worked out once per process: `reverse` costs some 60 Python calls, and a page asks for the same few
on every request (the booking page's own links, the navigation's).

A URL depends on the URL configuration and the script prefix the app is served under, which the key holds
(`url_state`); any change of settings (tests) forgets them all.
"""

from django.conf import settings
from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf

KEPT_AT_MOST = 5000  # a page's links for each treatment: forgotten all at once beyond
_kept: dict = {}


def url_state() -> tuple:
    """What a reversed URL depends on besides its name and arguments."""
    return (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())


def urls_kept(key, make) -> dict:
    """make(): a dict of URLs reversed together (a page's links), once per process for `key`. A copy."""
    full_key = ("urls", key, *url_state())
    found = _kept.get(full_key)
    if found is None:
        if len(_kept) >= KEPT_AT_MOST:
            _kept.clear()
        found = _kept[full_key] = make()
    return dict(found)


def forget(**kwargs) -> None:
    _kept.clear()


setting_changed.connect(forget, dispatch_uid="clinic.kept_urls.forget")
