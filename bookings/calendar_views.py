"""Calendar files: an appointment's .ics, a practitioner's private feed, and the page to get or reset it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from clinic import access, clock
from clinic.models import Practitioner

from . import calendar_feeds
from .ics import appointment_ics as build_appointment_ics
from .ics import practitioner_feed_ics
from .models import Appointment


def _calendar_response(content: bytes, filename: str, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@require_GET
@login_required
def appointment_ics(request, pk):
    appointment = get_object_or_404(
        Appointment.objects.select_related("treatment", "practitioner__user", "room__site"), pk=pk
    )
    access.found_only_if(access.may_see_appointment(request.user, appointment), "No such appointment.")
    local_day = appointment.start_at.astimezone(clock.zone()).date()
    filename = f"appointment-{local_day:%Y-%m-%d}-{appointment.pk}.ics"
    return _calendar_response(build_appointment_ics(appointment), filename, attachment=True)


@require_GET
def practitioner_calendar_feed(request, token):
    """No sign-in: calendar apps cannot. The token in the URL is the key; a reset revokes it."""
    feed = calendar_feeds.feed_by_token(token)
    if feed is None:
        raise Http404("No such calendar.")
    practitioner = feed.practitioner
    content = practitioner_feed_ics(practitioner, calendar_feeds.feed_appointments(practitioner))
    response = _calendar_response(content, f"{practitioner.slug}.ics", attachment=False)
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def practitioner_calendar_settings(request, slug):
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), slug=slug)
    if not access.may_edit_practitioner(request.user, practitioner):
        raise PermissionDenied("You can only see your own calendar link.")
    if request.method == "POST":
        had_one = calendar_feeds.feed_of(practitioner) is not None
        calendar_feeds.reset_feed(practitioner)
        if had_one:
            messages.success(request, "Your calendar link is new. The old link no longer works: add the new one.")
        else:
            messages.success(request, "Your calendar link is ready. Add it to your calendar app.")
        return redirect("practitioner_calendar_settings", practitioner.slug)
    feed = calendar_feeds.feed_of(practitioner)
    return render(
        request,
        "bookings/calendar_settings.html",
        {"practitioner": practitioner, "feed_url": calendar_feeds.feed_url(feed) if feed else ""},
    )
