from django import forms
from django.contrib import admin

from . import services
from .models import Consent, IntakeAccess, IntakeForm, Review, ScreeningFlag, ScreeningRule, screenable_questions


class ScreeningRuleForm(forms.ModelForm):
    class Meta:
        model = ScreeningRule
        fields = [
            "code",
            "topic",
            "question",
            "answers",
            "severity",
            "patient_text",
            "practitioner_text",
            "washout_days",
            "active",
            "display_order",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question"] = forms.ChoiceField(
            choices=screenable_questions(), help_text=ScreeningRule._meta.get_field("question").help_text
        )


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(admin.ModelAdmin):
    """The clinic edits the contraindication rules here; `consultations.screening` applies them."""

    form = ScreeningRuleForm
    list_display = ("topic", "question", "answers", "severity", "washout_days", "active")
    list_filter = ("severity", "active")
    list_editable = ("active",)
    search_fields = ("topic", "code", "patient_text", "practitioner_text")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IntakeAccess)
class IntakeAccessAdmin(ReadOnlyAdmin):
    """The audit log of staff reads of health forms: read-only, for everyone."""

    list_display = ("at", "user", "intake", "view")
    list_filter = ("view",)
    search_fields = ("user__email", "intake__patient__user__email", "intake__patient__user__last_name")
    date_hierarchy = "at"
    list_select_related = ("user", "intake__patient__user")


class ScreeningFlagInline(admin.TabularInline):
    model = ScreeningFlag
    extra = 0
    can_delete = False
    fields = ("intake_version", "severity", "topic", "answer", "until")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ReviewInline(admin.StackedInline):
    model = Review
    extra = 0
    can_delete = False
    readonly_fields = ("intake_version", "reviewer", "decision", "decided_at")
    fields = readonly_fields + (
        "message_to_patient",
        "notes",
        "prescriber_advice",
        "prescriber_name",
        "prescriber_role",
        "prescriber_advised_on",
        "valid_until",
        "suspended_at",
        "suspended_reason",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IntakeForm)
class IntakeFormAdmin(ReadOnlyAdmin):
    """Read-only here: patients change their answers, practitioners decide in the review pages (which log
    every read). Opening one in the admin is logged too."""

    list_display = ("patient", "status", "version", "submitted_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("patient__user__email", "patient__user__last_name")
    list_select_related = ("patient__user",)
    inlines = [ScreeningFlagInline, ReviewInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        intake = IntakeForm.objects.filter(pk=object_id).first()
        if intake is not None and response.status_code == 200:
            services.log_intake_access(intake, request.user, "admin")
        return response


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("patient", "signed_name", "text_version", "signed_at")
    search_fields = ("patient__user__email", "signed_name")
