"""API views: thin, like the pages. Reads use the clinic's selectors and the availability module; writes go
through bookings.services, whose refusals (BookingError) become 400/403/409 with the patient-facing message.
"""

import datetime
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_date
from django.views import defaults
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from bookings import availability, services
from bookings.models import Appointment
from bookings.selectors import patient_appointments
from clinic import access
from clinic.models import Treatment
from clinic.selectors import active_practitioners, bookable_treatments

from . import serializers as s


class IsPatient(permissions.BasePermission):
    """Only patients book through the API, and only for themselves (staff use the clinic's pages)."""

    message = "Sign in as a patient to see or book appointments."

    def has_permission(self, request, view):
        return access.patient_of(request.user) is not None


# Every status an endpoint can answer is in its schema, with the body it has (checked by schemathesis in
# tests/test_api_schemathesis.py): a refusal of the booking service, field errors, or REST framework's own.
BOOKING_ERROR = {"$ref": "#/components/schemas/BookingError"}
ERROR_DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}
NOT_FOUND = {404: OpenApiResponse(s.ErrorDetailSerializer, description="No such object (or not yours).")}
FIELD_ERRORS = OpenApiResponse(s.FIELD_ERRORS_SCHEMA, description="A field is missing or wrong.")
REFUSALS = {
    400: OpenApiResponse(
        {"anyOf": [BOOKING_ERROR, s.FIELD_ERRORS_SCHEMA, ERROR_DETAIL]},
        description="Bad input (a message per field, or a body that is not JSON), or a time that is not offered.",
    ),
    403: OpenApiResponse(
        {"anyOf": [BOOKING_ERROR, ERROR_DETAIL]},
        description="Not signed in as a patient, no CSRF token, or not eligible yet.",
    ),
    409: OpenApiResponse(s.BookingErrorSerializer, description="Just taken (with alternatives), course interval."),
}
PATIENTS_ONLY = {403: OpenApiResponse(s.ErrorDetailSerializer, description="Not signed in as a patient.")}


# --- treatments and practitioners ------------------------------------------------------------------------


@extend_schema(responses=s.TreatmentSerializer(many=True), tags=["clinic"])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def treatment_list(request):
    return Response(s.TreatmentSerializer(bookable_treatments(), many=True).data)


@extend_schema(responses={200: s.TreatmentSerializer, **NOT_FOUND}, tags=["clinic"])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def treatment_detail(request, slug):
    return Response(s.TreatmentSerializer(get_object_or_404(bookable_treatments(), slug=slug)).data)


@extend_schema(responses=s.PractitionerSerializer(many=True), tags=["clinic"])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def practitioner_list(request):
    return Response(s.PractitionerSerializer(active_practitioners(), many=True).data)


@extend_schema(responses={200: s.PractitionerSerializer, **NOT_FOUND}, tags=["clinic"])
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def practitioner_detail(request, slug):
    return Response(s.PractitionerSerializer(get_object_or_404(active_practitioners(), slug=slug)).data)


# --- availability ------------------------------------------------------------------------------------------


@extend_schema(
    parameters=[
        OpenApiParameter("treatment", str, required=True, description="Treatment slug."),
        OpenApiParameter("practitioner", str, description="Practitioner slug; empty or absent: first available."),
        OpenApiParameter("site", str, description="Site slug; empty or absent: any site."),
        OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First day (clinic time)."),
        OpenApiParameter(
            "to", OpenApiTypes.DATE, required=True, description=f"At most {s.MAX_RANGE_DAYS} days after from."
        ),
    ],
    responses={200: s.AvailabilitySerializer, 400: FIELD_ERRORS},
    tags=["booking"],
)
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def availability_api_view(request):
    """Bookable start times per day, on each site's clock (any site, or the one asked for). Signed-in
    patients also see why a day is not available to them (course intervals)."""
    params = {name: request.query_params.get(name) for name in AVAILABILITY_PARAMS}
    body = _cached_availability(request.query_params, params)
    patient = access.patient_of(request.user)
    # The query string named an offered treatment (else no answer was computed): its slug is the one asked.
    blocks = availability.course_blocks(patient, Treatment.objects.get(slug=params["treatment"])) if patient else []
    if blocks:  # this patient's course interval: a copy, never the shared answer
        payload = json.loads(body)
        return Response({**payload, "days": [_with_course_block(day, blocks) for day in payload["days"]]})
    return HttpResponse(body, content_type="application/json")


def availability_view(request):
    """The availability URL: what most callers send (an anonymous GET asking for JSON) is answered here from
    the cached bytes without REST framework's dispatch (its request wrapper, content negotiation,
    authentication and permission classes cost more than the cached answer itself); everything else (a
    signed-in patient's course intervals, another method, an Accept header or `format` to negotiate, a
    refusal to write) goes to `availability_api_view`, which answers as before. The same bytes and headers
    either way (tests/test_api.py); the schema documents this URL from REST framework's view (below)."""
    if request.method != "GET" or "format" in request.GET or not _asks_for_plain_json(request):
        return availability_api_view(request)
    if request.user.is_authenticated:
        return availability_api_view(request)
    params = {name: request.GET.get(name) for name in AVAILABILITY_PARAMS}
    try:
        body = _cached_availability(request.GET, params)
    except ValidationError:
        return availability_api_view(request)  # the refusal, written by REST framework's exception handler
    response = HttpResponse(body, content_type="application/json")
    response["Allow"] = ALLOWED  # as REST framework's view says it
    return response


# CSRF is REST framework's to check (for signed-in writes), as on its own views; and drf-spectacular documents
# the URL from the view the calls fall back to.
availability_view.csrf_exempt = True
availability_view.cls = availability_api_view.cls
availability_view.initkwargs = availability_api_view.initkwargs
ALLOWED = ", ".join(availability_api_view.cls().allowed_methods)  # its order is a set's: the same as REST framework's
PLAIN_JSON = {"*/*", "application/*", "application/json"}


def _asks_for_plain_json(request) -> bool:
    """No Accept header, or one naming JSON or anything, without parameters (a list with weights is
    negotiated by REST framework, which may refuse it with a 406)."""
    accept = request.headers.get("Accept", "")
    if not accept:
        return True
    kinds = [kind.strip().lower() for kind in accept.split(",")]
    return not any(";" in kind for kind in kinds) and any(kind in PLAIN_JSON for kind in kinds)


def _cached_availability(query_params, params) -> bytes:
    # The answer to a query string is the same for everyone until what it reads changes (availability's
    # "cached reads"): validated, computed and serialized once, then served from the cache. The treatment
    # and practitioner are looked up in the catalogue, kept under the same invalidation: no query.
    # The answer is kept as the JSON bytes it is sent as: a cached answer is not serialized or rendered again.
    return availability.cached(
        ("api", *params.values()),
        lambda as_of, known: _availability_body(query_params, as_of, known),
        reads=lambda known: _practitioners_asked(params, known),
        rooms=lambda known: _rooms_asked(params, known),
        days=_days_asked(params),
        pooled=True,  # JSON bytes: shared with the other processes (bookings/answer_cache.py)
    )


AVAILABILITY_PARAMS = ("treatment", "practitioner", "site", "from", "to")


def _practitioners_asked(params, known) -> list[int]:
    """Whose time the answer reads: the practitioner named, or all who offer the treatment (none for a
    query string that names no such treatment or practitioner: its answer is a refusal)."""
    treatment = known.treatments.get(params["treatment"])
    if treatment is None:
        return []
    if params["practitioner"]:
        practitioner = known.practitioners.get(params["practitioner"])
        return [practitioner.pk] if practitioner else []
    return known.practitioner_ids(treatment, None)


def _rooms_asked(params, known) -> list[int]:
    """Whose rooms the answer reads: the treatment's at the site named, or at every site (none for a query
    string that names no such treatment or site)."""
    treatment = known.treatments.get(params["treatment"])
    site = known.site_slugs.get(params["site"]) if params["site"] else None
    if treatment is None or (params["site"] and site is None):
        return []
    return known.room_ids(treatment, site)


def _days_asked(params):
    """The days whose rooms the answer reads, parsed as the serializer's DateField parses them; (None, None)
    for a range the serializer refuses (its answer is a refusal and reads no rooms)."""
    try:
        first, last = parse_date(params["from"]), parse_date(params["to"])
    except (TypeError, ValueError):
        return None, None
    if first is None or last is None or not 0 <= (last - first).days < s.MAX_RANGE_DAYS:
        return None, None
    return first, last


def _availability_body(query_params, as_of, known) -> bytes:
    treatment, practitioner, site, first, last = s.availability_query(query_params, known)
    days = availability.available_slots(treatment, practitioner, first, last, site=site, now=as_of, catalogue=known)
    payload = {
        "treatment": treatment.slug,
        "practitioner": practitioner.slug if practitioner else None,
        "site": site.slug if site else None,
        "time_zone": site.time_zone if site else settings.CLINIC_TIME_ZONE,
        "days": [{"date": day, "unavailable_reason": "", "slots": slots} for day, slots in days.items()],
    }
    return JSONRenderer().render(s.availability_data(payload))


def _with_course_block(day: dict, blocks) -> dict:
    date = datetime.date.fromisoformat(day["date"])
    reason = next((block.message for block in blocks if block.covers(date)), "")
    return {**day, "unavailable_reason": reason, "slots": []} if reason else day


# --- the signed-in patient's appointments ------------------------------------------------------------------

# Refusals of the booking service -> (HTTP status, machine-readable code). The message is the service's.
BOOKING_ERRORS = [
    (services.SlotTaken, status.HTTP_409_CONFLICT, "slot_taken"),
    (services.CourseIntervalTooShort, status.HTTP_409_CONFLICT, "course_interval"),
    (services.OutsideCancellationWindow, status.HTTP_409_CONFLICT, "cancellation_window"),
    (services.InvalidStatusChange, status.HTTP_409_CONFLICT, "invalid_status"),
    (services.NotEligible, status.HTTP_403_FORBIDDEN, "not_eligible"),
    (services.NotAllowed, status.HTTP_403_FORBIDDEN, "not_allowed"),
    (services.SlotNotOffered, status.HTTP_400_BAD_REQUEST, "slot_not_offered"),
    (services.BookingError, status.HTTP_400_BAD_REQUEST, "booking_refused"),
]


def booking_error_response(error: services.BookingError) -> Response:
    http_status, code = next((st, code) for kind, st, code in BOOKING_ERRORS if isinstance(error, kind))
    body = {"detail": error.message, "code": code}
    if isinstance(error, services.SlotTaken):
        body["alternatives"] = s.SlotSerializer(error.alternatives, many=True).data
    if isinstance(error, services.NotEligible) and error.next_step_url:
        body["next_step_url"] = error.next_step_url
    return Response(body, status=http_status)


def own_appointments(request):
    """Only the signed-in patient's: another patient's id answers 404, as an unknown one does."""
    return patient_appointments(request.user.patient)


@extend_schema(
    methods=["GET"], responses={200: s.AppointmentSerializer(many=True), **PATIENTS_ONLY}, tags=["appointments"]
)
@extend_schema(
    methods=["POST"],
    request=s.BookingRequestSerializer,
    responses={201: s.AppointmentSerializer, **REFUSALS},
    tags=["appointments"],
)
@api_view(["GET", "POST"])
@permission_classes([IsPatient])
def appointment_list(request):
    """GET: your appointments, earliest first. POST: book one of the times the availability endpoint offers.
    Sets the csrftoken cookie: send it back in the X-CSRFToken header with every POST."""
    if request.method == "GET":
        return Response(s.AppointmentSerializer(own_appointments(request), many=True).data)
    booking = s.BookingRequestSerializer(data=request.data)
    booking.is_valid(raise_exception=True)
    try:
        appointment = services.book_appointment(
            patient=request.user.patient,
            treatment=booking.validated_data["treatment"],
            practitioner=booking.validated_data["practitioner"],
            site=booking.validated_data["site"],
            start_at=booking.validated_data["start"],
            booked_by=request.user,
            source=Appointment.Source.API,
        )
    except services.BookingError as error:
        return booking_error_response(error)
    appointment = own_appointments(request).get(pk=appointment.pk)
    return Response(s.AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)


appointment_list = ensure_csrf_cookie(appointment_list)


@extend_schema(responses={200: s.AppointmentSerializer, **PATIENTS_ONLY, **NOT_FOUND}, tags=["appointments"])
@api_view(["GET"])
@permission_classes([IsPatient])
def appointment_detail(request, pk):
    return Response(s.AppointmentSerializer(get_object_or_404(own_appointments(request), pk=pk)).data)


@extend_schema(
    request=s.CancelRequestSerializer,
    responses={200: s.AppointmentSerializer, **REFUSALS, **NOT_FOUND},
    tags=["appointments"],
)
@api_view(["POST"])
@permission_classes([IsPatient])
def appointment_cancel(request, pk):
    """Cancel up to the cancellation window before; inside it, the answer says to call the clinic."""
    appointment = get_object_or_404(own_appointments(request), pk=pk)
    cancel = s.CancelRequestSerializer(data=request.data)
    cancel.is_valid(raise_exception=True)
    try:
        services.cancel_appointment(appointment, by=request.user, reason=cancel.validated_data["reason"])
    except services.BookingError as error:
        return booking_error_response(error)
    return Response(s.AppointmentSerializer(own_appointments(request).get(pk=pk)).data)


# --- docs ------------------------------------------------------------------------------------------------


@ensure_csrf_cookie
def api_docs(request):
    """Swagger UI from static/vendor (no CDN), started by static/api/docs.js (no inline script)."""
    return render(request, "api/docs.html")


# --- not found ---------------------------------------------------------------------------------------------


def not_found(request, exception):
    """The project's 404 (`handler404`): JSON under /api/, as every other API answer, even for a path that
    matches no URL (`/api/v1/appointments/-1/`); the site's page everywhere else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
