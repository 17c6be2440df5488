from django.contrib import admin

from consultations.admin import ReadOnlyAdmin

from .models import IntakeConfirmation


@admin.register(IntakeConfirmation)
class IntakeConfirmationAdmin(ReadOnlyAdmin):
    list_display = ("appointment", "intake_version", "confirmed_at")
