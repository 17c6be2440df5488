from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html

from . import access
from .forms import BaseWorkingHoursFormSet
from .models import (
    Closure,
    Notice,
    OpeningHours,
    Patient,
    Practitioner,
    Room,
    Site,
    SiteTravel,
    TimeOff,
    Treatment,
    User,
    WorkingHours,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Roles and permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "password1", "password2")},
        ),
    )


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user_email", "phone", "date_of_birth", "created_at", "audit_trail")
    search_fields = ("user__email", "user__first_name", "user__last_name", "phone")
    list_select_related = ("user",)
    raw_id_fields = ("user",)

    def get_queryset(self, request):
        """A practitioner sees only their own patients (never those unrelated to them); desk and admin see all."""
        patients = super().get_queryset(request)
        if not access.sees_only_own(request.user):
            return patients
        return patients.filter(pk__in=access.patients_of(request.user.practitioner).values("pk"))

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        url = reverse("admin:auditlog_logentry_changelist")
        return format_html('<a href="{}?patient={}">who saw and changed what</a>', url, obj.pk)

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = BaseWorkingHoursFormSet
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "title", "registration_number", "active")
    list_filter = ("active", "treatments")
    search_fields = ("user__first_name", "user__last_name", "user__email")
    filter_horizontal = ("treatments",)
    raw_id_fields = ("user",)
    inlines = [WorkingHoursInline, TimeOffInline]

    def get_queryset(self, request):
        """A practitioner changes their own profile, hours and time off only; desk and admin see everyone."""
        practitioners = super().get_queryset(request)
        return practitioners.filter(user=request.user) if access.sees_only_own(request.user) else practitioners

    def get_readonly_fields(self, request, obj=None):
        """Which account a profile belongs to is the clinic admin's to set."""
        return self.readonly_fields if access.may_link_accounts(request.user) else ("user",)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    """A site: its address and clock, opening hours and rooms (docs/sites.md). Deleting a site that still
    has rooms or working hours is refused (they are protected): make it inactive instead."""

    list_display = ("name", "slug", "time_zone", "bank_holidays", "active", "display_order")
    list_filter = ("active",)
    search_fields = ("name", "address")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OpeningHoursInline, RoomInline]
    filter_horizontal = ("staff",)  # the front desk who work here (their calendars open on this site)


@admin.register(SiteTravel)
class SiteTravelAdmin(admin.ModelAdmin):
    """The travel time between two sites when it is not the clinic's one figure (`CLINIC_TRAVEL_MINUTES`):
    availability keeps it free and the database refuses less (docs/sites.md)."""

    list_display = ("from_site", "to_site", "minutes")
    list_select_related = ("from_site", "to_site")


@admin.register(Treatment)
class TreatmentAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "duration_minutes", "price", "min_days_between_sessions", "active")
    list_filter = ("kind", "active", "sites")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("sites",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "site", "active")
    list_filter = ("site", "active")
    list_select_related = ("site",)


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    """The clinic's own closures, of one site or (no site) of all; bank holidays come from clinic.closures.
    The desk edits both at /desk/closures/."""

    list_display = ("reason", "site", "first_day", "last_day", "created_by")
    list_filter = ("site",)
    list_select_related = ("site", "created_by")
    date_hierarchy = "first_day"
    readonly_fields = ("created_by",)

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ("practitioner", "start_at", "end_at", "reason")
    list_filter = ("practitioner",)

    def get_queryset(self, request):
        time_off = super().get_queryset(request)
        return time_off.filter(practitioner__user=request.user) if access.sees_only_own(request.user) else time_off

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "practitioner" and access.sees_only_own(request.user):
            kwargs["queryset"] = Practitioner.objects.filter(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- The audit trail: read-only for everyone, filterable by patient and by user -----------------------------
admin.site.unregister(LogEntry)


class PatientTrailFilter(admin.SimpleListFilter):
    """`?patient=<id>`: everything recorded about one patient (reached from the patient's admin row)."""

    title = "patient"
    parameter_name = "patient"

    def lookups(self, request, model_admin):
        value = self.value()
        patient = Patient.objects.select_related("user").filter(pk=value).first() if str(value).isdigit() else None
        return [(value, str(patient))] if patient else []

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(additional_data__patient_id=int(self.value()))
        return queryset


@admin.register(LogEntry)
class AuditTrailAdmin(LogEntryAdmin):
    list_display = ["created", "resource_url", "action", "msg_short", "user_url", "patient_link"]
    list_filter = ["action", PatientTrailFilter, ResourceTypeFilter, ("actor", admin.RelatedOnlyFieldListFilter)]

    @admin.display(description="patient")
    def patient_link(self, obj):
        patient_id = (obj.additional_data or {}).get("patient_id")
        if not patient_id:
            return "-"
        return format_html('<a href="?patient={}">patient {}</a>', patient_id, patient_id)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """The notices' outbox (clinic/notices.py), read-only: what was owed to whom, sent or still retried."""

    list_display = ("created_at", "kind", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    readonly_fields = [field.name for field in Notice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
