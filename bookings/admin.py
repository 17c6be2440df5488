from django.contrib import admin
from django.utils import timezone

from clinic import access
from clinic.admin import TreatmentAdmin

from .models import (
    AftercareCheckIn,
    Appointment,
    AppointmentEvent,
    Reminder,
    TreatmentReminder,
    WaitlistEntry,
    WaitlistOffer,
)
from .reminders.services import retry_failed_reminder


class AppointmentEventInline(admin.TabularInline):
    model = AppointmentEvent
    extra = 0
    readonly_fields = ("action", "at", "by", "reason", "old_start_at", "new_start_at")
    can_delete = False


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("start_at", "treatment", "practitioner", "patient", "room", "status", "source")
    list_filter = ("status", "source", "practitioner", "treatment", "room")
    date_hierarchy = "start_at"
    search_fields = ("patient__user__email", "patient__user__last_name", "practitioner__user__last_name")
    list_select_related = ("treatment", "practitioner__user", "patient__user", "room")
    raw_id_fields = ("patient",)
    inlines = [AppointmentEventInline]


# --- Reminders -------------------------------------------------------------------------------------


class ReminderInline(admin.TabularInline):
    model = Reminder
    extra = 0
    can_delete = False
    fields = ("kind", "channel", "due_at", "status", "attempts", "sent_at", "last_error", "cancel_reason")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


AppointmentAdmin.inlines = [*AppointmentAdmin.inlines, ReminderInline]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The outbox as the front desk sees it: what went, what is waiting, what failed and why."""

    list_display = ("due_at", "kind", "channel", "status", "attempts", "sent_at", "patient", "last_error")
    list_filter = ("status", "kind", "channel")
    date_hierarchy = "due_at"
    search_fields = ("appointment__patient__user__email", "appointment__patient__user__last_name")
    list_select_related = ("appointment__patient__user",)
    readonly_fields = (
        "appointment",
        "kind",
        "channel",
        "due_at",
        "next_attempt_at",
        "status",
        "attempts",
        "claims",
        "sent_at",
        "last_error",
        "cancel_reason",
        "created_at",
        "updated_at",
    )
    actions = ["retry"]

    @admin.display(description="patient")
    def patient(self, obj):
        return obj.appointment.patient

    @admin.action(description="Try the selected failed reminders again", permissions=["change"])
    def retry(self, request, queryset):
        failed = list(queryset.filter(status=Reminder.Status.FAILED))
        for reminder in failed:
            retry_failed_reminder(reminder)
        self.message_user(request, f"{len(failed)} failed reminder(s) will be sent again within a minute.")

    def has_add_permission(self, request):
        return False


class TreatmentReminderInline(admin.TabularInline):
    model = TreatmentReminder
    extra = 0
    fields = ("kind", "enabled", "offset_hours", "subject", "extra_text")


# The treatment's page is where its reminder timeline is edited.
TreatmentAdmin.inlines = [*TreatmentAdmin.inlines, TreatmentReminderInline]


@admin.register(AftercareCheckIn)
class AftercareCheckInAdmin(admin.ModelAdmin):
    list_display = ("created_at", "answer", "needs_attention", "followed_up_at", "appointment")
    list_filter = ("needs_attention", "answer", ("followed_up_at", admin.EmptyFieldListFilter))
    list_select_related = ("appointment__patient__user", "appointment__treatment", "appointment__practitioner__user")
    readonly_fields = ("appointment", "answer", "details", "needs_attention", "created_at")
    actions = ["mark_followed_up"]

    def get_fields(self, request, obj=None):
        """The front desk sees that a patient needs a call, not the patient's own words about their skin."""
        fields = super().get_fields(request, obj)
        return fields if access.may_see_check_in_details(request.user) else [f for f in fields if f != "details"]

    def get_queryset(self, request):
        """A practitioner sees the check-ins of their own patients only; desk and admin see all."""
        check_ins = super().get_queryset(request)
        if not access.sees_only_own(request.user):
            return check_ins
        return check_ins.filter(appointment__practitioner__user=request.user)

    @admin.action(description="Mark as followed up", permissions=["change"])
    def mark_followed_up(self, request, queryset):
        count = queryset.filter(followed_up_at__isnull=True).update(
            followed_up_at=timezone.now(), followed_up_by=request.user
        )
        self.message_user(request, f"{count} check-in(s) marked as followed up.")


# --- Waitlist --------------------------------------------------------------------------------------


class WaitlistOfferInline(admin.TabularInline):
    model = WaitlistOffer
    extra = 0
    can_delete = False
    fields = ("practitioner", "start_at", "expires_at", "status", "sent_at", "answered_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "patient", "treatment", "practitioner", "earliest_day", "latest_day", "status")
    list_filter = ("status", "treatment", "practitioner")
    search_fields = ("patient__user__email", "patient__user__last_name")
    list_select_related = ("patient__user", "treatment", "practitioner__user")
    raw_id_fields = ("patient", "appointment")
    readonly_fields = ("created_at", "created_by", "closed_at")
    inlines = [WaitlistOfferInline]
