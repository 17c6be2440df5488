"""The booking page's times list (bookings/includes/times.html), kept per process as written for each cached
answer and everything else it shows (issue 16).

Writing the list (its 20 to 60 buttons, the other days' links, the template around them) was a third of the
times list's Python calls and a fifth of the booking page's, on every request, for the same answer. The
answer is the one availability keeps thawed per process (`availability.cached(..., shared=True)`): the same
object for as long as nothing it reads has changed, and a new one from the first request after any change
(a booking anywhere in what it reads gives a new name of the state, so a new answer). So the list is kept
under that object (held by the entry, and compared by identity) and every other value the template reads
(`times_key`): the day, the practitioner and the site asked for, whether the treatment is had at several
sites, why the day is closed, the patient's course interval's reason, the other days offered, the page's
links, the language; and under the compiled template. A list with form errors, or for a patient who may not
book, is written each time. Nothing in the list depends on who asks beyond what the key holds (no CSRF
token, no name), so a kept list is exactly what the template would write.

The page around the list (bookings/book_treatment.html in base.html: the chooser, the navigation, the footer,
some 1,500 of the page's Python calls) is kept too (`page_body`, cut and filled as clinic/kept_pages.py
says): rendered once with a hole for the list and one for the request's CSRF token, which are put in at each
request. Its key (`page_key`) holds everything else the page shows: the address asked for (the chooser's
values), the navigation's values for who asks, the days the day input allows, the treatment object of the
catalogue (held, compared by identity: the treatment's words and the chooser's options are the catalogue's),
the URL configuration and the language. A page with a message to show once, or whose list is not kept, is
rendered for that request alone.
"""

import threading
from collections import OrderedDict

from django.core.signals import setting_changed
from django.template.loader import get_template
from django.utils.translation import get_language

from clinic import kept_pages
from clinic.kept_urls import url_state
from clinic.templatetags import chrome

TEMPLATE = "bookings/includes/times.html"
KEEP = 64  # lists kept per process (8 KB each): the oldest is forgotten beyond
_kept: OrderedDict = OrderedDict()
_lock = threading.Lock()


def times_key(context: dict) -> tuple | None:
    """Every value the times list reads apart from the answer's slots, or None when it is not kept."""
    if context.get("times_answer") is None or context.get("form_errors"):
        return None
    eligibility = context.get("eligibility")
    if eligibility is not None and not eligibility.allowed:
        return None
    practitioner, site = context["practitioner"], context["site"]
    return (
        context["day"],
        getattr(practitioner, "pk", None),
        getattr(site, "pk", None),
        bool(context["several_sites"]),
        context["closed"],
        context["course_reason"],
        tuple(context["next_days"]),
        context["treatment"].slug,
        context["page_url"],
        context["times_url"],
        context["choose_url"],
        context["waitlist_url"],
        get_language(),
    )


def times_html(context: dict) -> str:
    """The times list for this booking page context (`bookings.views.times_context` and the page's links), as
    the template writes it: kept per answer and key."""
    template = get_template(TEMPLATE)
    key = times_key(context)
    if key is None:
        return template.render(context)
    answer, compiled = context["times_answer"], template.template
    found = _kept.get(key)
    if found is not None and found[0] is answer and found[1] is compiled:
        return found[2]
    html = template.render(context)
    with _lock:
        _kept[key] = (answer, compiled, html)
        _kept.move_to_end(key)
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
    return html


PAGE = "bookings/book_treatment.html"
PAGES_KEPT = 64
_pages: OrderedDict = OrderedDict()


def page_key(request, context: dict, form) -> tuple | None:
    """Everything the booking page shows besides its times list and the CSRF token, or None when the page is
    not kept (its list is not: `times_key`)."""
    if times_key(context) is None:
        return None
    return (
        request.get_full_path(),
        tuple(sorted(chrome.nav_values(request.user, request).items())),
        form.first_day,
        form.last_day,
        context["treatment"].pk,
        url_state(),
        get_language(),
    )


def page_body(key: tuple, context: dict, times: str, token, render) -> bytes:
    """The page for `key`, as the response's bytes, with `times` (the list) and the request's CSRF token
    (`token()`) put in: `render(holes)` (the page rendered with `holes`, the context's list and token as
    `kept_pages`' holes) the first time, then kept (and encoded once: `HoledPage.body`)."""
    compiled, treatment = get_template(PAGE).template, context["treatment"]
    found = _pages.get(key)
    if found is None or found[0] is not compiled or found[1] is not treatment:
        page = kept_pages.HoledPage.cut(
            render({"times_html": kept_pages.CONTENT_HOLE, "csrf_token": kept_pages.CSRF_HOLE})
        )
        assert page.holes.count(kept_pages.CSRF_HOLE) == 1, "one sign-out form"
        found = (compiled, treatment, page)
        with _lock:
            _pages[key] = found
            _pages.move_to_end(key)
            while len(_pages) > PAGES_KEPT:
                _pages.popitem(last=False)
    return found[2].body([times.encode()], token())


def forget(**kwargs) -> None:
    with _lock:
        _kept.clear()
        _pages.clear()


setting_changed.connect(forget, dispatch_uid="bookings.kept_times.forget")
