"""What the API reads and writes. Every input is validated here (unknown slugs, dates, times): a bad request
is a 400 with a message per field, before anything is written."""

import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings import availability, hooks, services
from bookings.models import Appointment
from clinic import clock, links
from clinic.models import Practitioner, Site, Treatment
from clinic.selectors import active_practitioners, bookable_treatments

MAX_RANGE_DAYS = 31


# --- reads -------------------------------------------------------------------------------------------------


class TreatmentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Treatment
        fields = ["slug", "name"]


class PractitionerRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Practitioner
        fields = ["slug", "name"]


class TreatmentSerializer(serializers.ModelSerializer):
    body_areas = serializers.ListField(child=serializers.CharField(), read_only=True)
    page_url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Treatment
        fields = [
            "slug",
            "name",
            "kind",
            "summary",
            "description",
            "duration_minutes",
            "price",
            "body_areas",
            "min_days_between_sessions",
            "needs_cleared_intake",
            "pre_care",
            "aftercare",
            "page_url",
        ]


class PractitionerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    photo_url = serializers.CharField(read_only=True)
    page_url = serializers.CharField(source="get_absolute_url", read_only=True)
    treatments = TreatmentRefSerializer(many=True, read_only=True)

    class Meta:
        model = Practitioner
        fields = ["slug", "name", "title", "bio", "qualifications", "photo_url", "page_url", "treatments"]


class SiteDateTimeField(serializers.DateTimeField):
    """An instant on its site's clock (the `site` of the slot or appointment it is read from), with that UTC
    offset: a Madrid site's 09:00 reads 09:00+02:00 in summer, not 08:00+01:00 on the server's clock."""

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        return value.astimezone(clock.zone(getattr(instance, "site", None))) if value is not None else None

    def to_representation(self, value):
        if value is None:
            return None
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text  # as REST framework writes UTC


class SlotSerializer(serializers.Serializer):
    """A bookable start, in its site's local time with its UTC offset: send `start` (and `site`) back to book
    it."""

    start = SiteDateTimeField(source="start_at")
    end = SiteDateTimeField(source="end_at")
    practitioner = serializers.CharField(source="practitioner.slug", help_text="The practitioner's slug.")
    site = serializers.CharField(source="site.slug", help_text="The site's slug.")


class AvailabilityDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    unavailable_reason = serializers.CharField(help_text="Why the signed-in patient cannot book this day, if so.")
    slots = SlotSerializer(many=True)


class AvailabilitySerializer(serializers.Serializer):
    treatment = serializers.CharField()
    practitioner = serializers.CharField(allow_null=True, help_text="null: first available.")
    site = serializers.CharField(allow_null=True, help_text="null: any site.")
    time_zone = serializers.CharField(help_text="The site's zone (the clinic's for any site): what the dates are in.")
    days = AvailabilityDaySerializer(many=True)


def availability_data(payload) -> dict:
    """What `AvailabilitySerializer(payload).data` gives, written out: the endpoint's answer when computed.
    REST framework's serializers took more time than the slots themselves for a week of slots (a field
    copied per slot); tests/test_api.py checks this against the serializer, on both sides of a clock change.
    Times as `SiteDateTimeField` writes them: on the slot's site's clock, ISO 8601, UTC as Z."""
    zones = {}

    def instant(value, site):
        zone = zones.get(site.pk)
        if zone is None:
            zone = zones[site.pk] = clock.zone(site)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return {
        "treatment": payload["treatment"],
        "practitioner": payload["practitioner"],
        "site": payload["site"],
        "time_zone": payload["time_zone"],
        "days": [
            {
                "date": day["date"].isoformat(),
                "unavailable_reason": day["unavailable_reason"],
                "slots": [
                    {
                        "start": instant(slot.start_at, slot.room.site),
                        "end": instant(slot.end_at, slot.room.site),
                        "practitioner": slot.practitioner.slug,
                        "site": slot.room.site.slug,
                    }
                    for slot in day["slots"]
                ],
            }
            for day in payload["days"]
        ],
    }


class DepositDueSerializer(serializers.Serializer):
    """What an appointment awaiting its deposit asks for, and where the patient pays it."""

    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    pay_by = serializers.DateTimeField(help_text="Unpaid by then, the time held is released.")
    terms = serializers.CharField(help_text="The cancellation policy: show it before the patient pays.")
    pay_url = serializers.URLField(help_text="The deposit page: amount and policy, then Stripe's hosted Checkout.")


class AppointmentSerializer(serializers.ModelSerializer):
    treatment = TreatmentRefSerializer(read_only=True)
    practitioner = PractitionerRefSerializer(read_only=True)
    start = SiteDateTimeField(source="start_at", read_only=True)
    end = SiteDateTimeField(source="end_at", read_only=True)
    room = serializers.CharField(source="room.name", read_only=True)
    site = serializers.CharField(source="site.slug", read_only=True, help_text="The site's slug.")
    can_cancel_online = serializers.SerializerMethodField()
    ics_url = serializers.SerializerMethodField()
    deposit = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = ["id", "treatment", "practitioner", "start", "end", "site", "room", "status", "source"]
        fields += ["can_cancel_online", "ics_url", "deposit"]

    def get_can_cancel_online(self, appointment) -> bool:
        return services.patient_can_change(appointment)

    def get_ics_url(self, appointment) -> str:
        return reverse("appointment_ics", args=[appointment.pk])

    @extend_schema_field(DepositDueSerializer(allow_null=True))
    def get_deposit(self, appointment):
        """null unless the appointment is held awaiting its deposit (status `awaiting_deposit`): an online
        booking through the API follows the same deposit rule as the booking pages."""
        if appointment.status != Appointment.Status.AWAITING_DEPOSIT:
            return None
        steps = hooks.steps()
        due = steps.deposit_due(appointment)
        next_url = steps.next_url(appointment)
        if not due or not next_url:
            return None
        return DepositDueSerializer({**due, "pay_url": links.absolute_url(next_url)}).data


class ErrorDetailSerializer(serializers.Serializer):
    """What REST framework answers for a refusal it makes itself: not signed in, not allowed, not found."""

    detail = serializers.CharField()


class BookingErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A message for the patient.")
    code = serializers.CharField()
    alternatives = SlotSerializer(many=True, required=False, help_text="slot_taken: the nearest free times.")
    next_step_url = serializers.CharField(required=False, help_text="not_eligible: where to go next.")


# --- inputs ------------------------------------------------------------------------------------------------


class CatalogueSlugField(serializers.SlugRelatedField):
    """A slug looked up in the availability catalogue when the serializer's context has one (the clinic's
    set-up, kept per state of the clinic: no query), else in the queryset. The catalogue holds the same rows
    as the querysets below (active treatments, active practitioners)."""

    def __init__(self, *, catalogue_attribute, **kwargs):
        self.catalogue_attribute = catalogue_attribute
        super().__init__(**kwargs)

    def __deepcopy__(self, memo):
        """REST framework copies a serializer's declared fields for every instance, with their arguments;
        copying the queryset copies its whole query, half the cost of validating the availability endpoint's
        query string (300 -> 150 microseconds). The copy shares it instead: a related field never evaluates
        its queryset, only clones of it (`get_queryset`)."""
        queryset = self._kwargs.get("queryset")
        if queryset is not None:
            memo[id(queryset)] = queryset
        return super().__deepcopy__(memo)

    def to_internal_value(self, data):
        known = self.context.get("catalogue")
        if known is None:
            return super().to_internal_value(data)
        if not isinstance(data, str):
            self.fail("invalid")
        found = getattr(known, self.catalogue_attribute).get(data)
        if found is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return found


def _treatment_field(**kwargs):
    return CatalogueSlugField(
        catalogue_attribute="treatments",
        slug_field="slug",
        queryset=bookable_treatments(),
        error_messages={"does_not_exist": "There is no treatment “{value}”.", "invalid": "Give a treatment's slug."},
        **kwargs,
    )


def _practitioner_field(**kwargs):
    return CatalogueSlugField(
        catalogue_attribute="practitioners",
        slug_field="slug",
        queryset=active_practitioners(),
        error_messages={
            "does_not_exist": "There is no practitioner “{value}”.",
            "invalid": "Give a practitioner's slug, or leave it empty for the first available.",
        },
        **kwargs,
    )


def _site_field(**kwargs):
    return CatalogueSlugField(
        catalogue_attribute="site_slugs",
        slug_field="slug",
        queryset=Site.objects.active(),
        error_messages={
            "does_not_exist": "There is no site “{value}”.",
            "invalid": "Give a site's slug, or leave it empty for any site.",
        },
        **kwargs,
    )


def _ensure_offers(practitioner, treatment, known=None):
    if practitioner is None:
        return
    offers = (
        known.offers(practitioner.pk, treatment.pk)
        if known is not None
        else practitioner.treatments.filter(pk=treatment.pk).exists()
    )
    if not offers:
        raise serializers.ValidationError({"practitioner": f"{practitioner.name} does not offer {treatment.name}."})


class AvailabilityQuerySerializer(serializers.Serializer):
    """?treatment=<slug>&practitioner=<slug or empty>&site=<slug or empty>&from=YYYY-MM-DD&to=YYYY-MM-DD"""

    treatment = _treatment_field()
    practitioner = _practitioner_field(required=False, allow_null=True, default=None)
    site = _site_field(required=False, allow_null=True, default=None)
    to = serializers.DateField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()  # a Python keyword: declared here
        return fields

    def validate(self, data):
        refusal = _range_refusal(data["from"], data["to"])
        if refusal:
            raise serializers.ValidationError(refusal)
        _ensure_offers(data.get("practitioner"), data["treatment"], self.context.get("catalogue"))
        return data


def _range_refusal(first, last) -> dict | None:
    """Why the availability endpoint refuses these days ({field: message}), or None."""
    today = clock.today()
    _, last_bookable = availability.bookable_days()
    if first < today:
        return {"from": "That date is in the past: choose today or later."}
    if first > last:
        return {"to": "'to' is before 'from'."}
    if last > last_bookable:
        return {
            "to": f"Bookings open {settings.CLINIC['HORIZON_DAYS']} days ahead: "
            f"choose dates up to {last_bookable:%-d %B %Y} ({last_bookable.isoformat()})."
        }
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        return {"to": f"Ask for at most {MAX_RANGE_DAYS} days at a time."}
    return None


def availability_query(query_params, known) -> tuple:
    """The availability endpoint's query string validated against the catalogue `known`: (treatment,
    practitioner or None, site or None, first day, last day). What nearly every caller sends (slugs the
    catalogue holds, days written YYYY-MM-DD, a range the rules allow) is read here directly; anything else
    is left to `AvailabilityQuerySerializer`, which accepts it the same way or refuses it with a message per
    field. REST framework copies a serializer's fields for every instance and runs each through its
    validators: with the cache off, that was a tenth of a request (tests/test_api.py compares both)."""
    plain = _plain_query(query_params, known)
    if plain is not None:
        return plain
    query = AvailabilityQuerySerializer(data=query_params, context={"catalogue": known})
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return data["treatment"], data["practitioner"], data["site"], data["from"], data["to"]


def _plain_query(query_params, known) -> tuple | None:
    """`availability_query` for a query string the serializer would accept as it stands, else None."""
    treatment = known.treatments.get(query_params.get("treatment"))
    if treatment is None:
        return None
    practitioner = site = None
    slug = query_params.get("practitioner")
    if slug:
        practitioner = known.practitioners.get(slug)
        if practitioner is None or not known.offers(practitioner.pk, treatment.pk):
            return None
    slug = query_params.get("site")
    if slug:
        site = known.site_slugs.get(slug)
        if site is None:
            return None
    days = []
    for name in ("from", "to"):
        text = query_params.get(name)
        if not isinstance(text, str) or len(text) != 10 or text[4] != "-" or text[7] != "-":
            return None  # not YYYY-MM-DD: as the serializer's DateField reads it, or refuses it
        try:
            days.append(datetime.date.fromisoformat(text))
        except ValueError:
            return None
    if _range_refusal(*days):
        return None
    return treatment, practitioner, site, *days


class AwareDateTimeField(serializers.DateTimeField):
    """A time with its UTC offset, as the availability endpoint gives it: a local time alone is ambiguous on
    the night the clocks go back."""

    default_error_messages = {
        "naive": "Give the time with its UTC offset, as the availability endpoint shows it "
        "(e.g. 2027-03-28T10:00:00+01:00)."
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class BookingRequestSerializer(serializers.Serializer):
    treatment = _treatment_field()
    practitioner = _practitioner_field(
        required=False, allow_null=True, default=None, help_text="Empty or null: the first available."
    )
    site = _site_field(required=False, allow_null=True, default=None, help_text="Empty or null: any site.")
    start = AwareDateTimeField(help_text="A `start` from the availability endpoint.")

    def validate_start(self, start):
        first_day, last_day = availability.bookable_days()
        local_day = start.astimezone(clock.zone()).date()
        if start <= timezone.now() or not first_day <= local_day <= last_day:
            raise serializers.ValidationError("That time is not offered. Choose one from the availability endpoint.")
        return start

    def validate(self, data):
        _ensure_offers(data.get("practitioner"), data["treatment"], self.context.get("catalogue"))
        return data


class CancelRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


# --- error bodies in the schema ----------------------------------------------------------------------------

FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "A message per field that is missing or wrong (`non_field_errors` for the request as a whole).",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
