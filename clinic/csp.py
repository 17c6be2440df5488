"""The content security policy header, as django-csp writes it, built once per process for the responses
that change nothing of it.

django-csp builds the header from the settings on every response: two dataclasses copied into dicts and
every directive joined again, about 300 Python calls, a sixth of a bare page's whole request. A response with
no decorator's config, update or replace (`_csp_config`, `_csp_update`, ... on the response) for a request
that used no nonce gets the same header every time: it is built once, by django-csp's own `build_policy`,
and set under django-csp's own conditions (not on a debug page's 404 or 500, not over a header already set,
not on an exempt response or an excluded path). Anything else goes through django-csp unchanged. Any change
of settings (tests) builds it again.
"""

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed

OWN_PARTS = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
DEBUG_PAGES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
_policies: dict = {}


def policies() -> dict:
    """{header: (policy, excluded path prefixes)} of the settings' policy and report-only policy, if any."""
    if not _policies:
        for header, setting, report_only in (
            (HEADER, "CONTENT_SECURITY_POLICY", False),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
        ):
            built = build_policy(report_only=report_only)
            excluded = tuple((getattr(settings, setting) or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            _policies[header] = (built, excluded)
    return _policies


def forget(**kwargs) -> None:
    _policies.clear()


setting_changed.connect(forget, dispatch_uid="clinic.csp.forget")


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, part) for part in OWN_PARTS):
            return super().process_response(request, response)  # a policy of its own: built for it
        if response.status_code in DEBUG_PAGES and settings.DEBUG:
            return response
        for header, (policy, excluded) in policies().items():
            exempt = "_csp_exempt" if header == HEADER else "_csp_exempt_ro"
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for once the header is written is an error, not a silent weakening.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
