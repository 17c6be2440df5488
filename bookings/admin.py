from django.contrib import admin

from .models import Appointment, AppointmentEvent


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
