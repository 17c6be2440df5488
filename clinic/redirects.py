"""Where a `next` parameter may send a visitor: only back into this site. The one rule for every page that
honours `next` (sign-up, two-factor sign-in, the front desk's actions): anything else is an open redirect a
phishing mail could use to send a patient from our sign-in page to a copy of it."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback: str) -> str:
    """The `next` of the form or the query string if it stays on this site, else `fallback`. Django's check
    also refuses the tricks a prefix test misses: `//host`, `/\\host`, other schemes. Only a path is taken:
    `redirect()` reads any other word as the name of a URL to look up, and an unknown one was a 500."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if target.startswith("/") and allowed else fallback
