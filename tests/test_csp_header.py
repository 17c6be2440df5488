"""The content security policy header built once per process (clinic.csp) is django-csp's, response for
response: for a page that changes nothing of it, and for those that do (a decorator's update, an exemption,
an excluded path, a report-only policy, a nonce), which go through django-csp itself."""

import pytest
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from clinic.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def headers(middleware_class, path="/", status=200, nonce=False, **response_parts):
    request = RequestFactory().get(path)

    def view(request):
        if nonce:
            str(request.csp_nonce)
        response = HttpResponse(status=status)
        for name, value in response_parts.items():
            setattr(response, name, value)
        return response

    response = middleware_class(view)(request)
    if not nonce and status == 200:
        with pytest.raises(Exception, match="not available after the CSP header"):
            str(request.csp_nonce)  # asked for too late: an error, as django-csp makes it
    return {header: response.get(header) for header in HEADERS}


@pytest.mark.parametrize(
    "case",
    [
        {},
        {"status": 404},
        {"_csp_update": {"form-action": ["https://checkout.example"]}},
        {"_csp_replace": {"script-src": None}},
        {"_csp_exempt": True},
        {"nonce": True},
        {"path": "/excluded/page/"},
    ],
)
def test_the_header_is_django_csps(settings, case):
    settings.DEBUG = case.get("status") == 404  # a debug page's 404 has none
    policy = settings.CONTENT_SECURITY_POLICY
    for report_only in (None, {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp/"}}):
        settings.CONTENT_SECURITY_POLICY = {**policy, "EXCLUDE_URL_PREFIXES": ["/excluded/"]}
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = report_only
        case = dict(case)
        if "nonce" not in case:
            assert headers(CSPMiddleware, **case) == headers(DjangoCSPMiddleware, **case)
        else:  # the nonce differs from request to request: the same header, nonce aside
            ours, theirs = headers(CSPMiddleware, **case), headers(DjangoCSPMiddleware, **case)
            assert ours.keys() == theirs.keys() and all((ours[h] is None) == (theirs[h] is None) for h in HEADERS)
    assert "script-src 'self'" in headers(CSPMiddleware)["Content-Security-Policy"]
    assert headers(CSPMiddleware, path="/excluded/x")["Content-Security-Policy"] is None
