"""Absolute links: every link that leaves the site (emails, texts, calendar files) is built here, from the one
`SITE_URL` setting (`make run` sets it from its own host and port; production must set it)."""

from django.conf import settings


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path
