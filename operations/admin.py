"""The admin's side of a patient's rights: the data export action on patients, and erasure requests.

Here rather than in clinic/admin.py because both reach into every app (clinic is the lowest layer and imports
none above it). The patient admin is clinic's, extended with the export action.
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from clinic import access, clock
from clinic.admin import PatientAdmin as ClinicPatientAdmin
from clinic.audit import record_access
from clinic.models import ErasureRequest, Patient

from . import erasure
from .patient_data import patient_data
from .views import data_file_response

admin.site.unregister(Patient)


@admin.register(Patient)
class PatientAdmin(ClinicPatientAdmin):
    actions = ["export_data"]

    @admin.action(description="Download the selected patient's data (JSON)", permissions=["export"])
    def export_data(self, request, queryset):
        """For a subject access request made by post or phone: the same copy the patient downloads."""
        if queryset.count() != 1:
            self.message_user(request, "Choose one patient at a time.", messages.ERROR)
            return None
        patient = queryset.get()
        data = patient_data(patient)
        record_access(request.user, patient, what="data export by staff (JSON)")
        return data_file_response(data, f"patient-{patient.pk}-data-{clock.today():%Y-%m-%d}.json")

    def has_export_permission(self, request):
        """Health data: clinic admins only (the front desk and practitioners may list patients here)."""
        return access.may_handle_patient_data_requests(request.user)


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """Patients ask on their own pages; a clinic admin completes (after a confirmation page) or refuses here.
    The rules are in `operations.erasure`; nothing here changes a patient by itself."""

    list_display = ("pk", "patient", "status", "requested_at", "closed_at", "closed_by", "retain_until")
    list_filter = ("status",)
    list_select_related = ("patient__user", "closed_by")
    readonly_fields = ("patient", "status", "requested_at", "closed_at", "closed_by", "retain_until")
    fields = ("patient", "status", "requested_at", "refusal_reason", "closed_at", "closed_by", "retain_until")
    actions = ["complete_selected", "refuse_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_open:
            return (*self.readonly_fields, "refusal_reason")
        return self.readonly_fields

    @admin.action(description="Complete the erasure of the selected requests (asks to confirm)", permissions=["change"])
    def complete_selected(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/clinic/erasurerequest/confirm_completion.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Complete erasure?",
                    "requests": queryset,
                    "retention_years": erasure.retention_years(),
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        for erasure_request in queryset:
            try:
                erasure.complete_erasure(erasure_request, by=request.user)
            except erasure.ErasureError as error:
                self.message_user(request, f"Request {erasure_request.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"Request {erasure_request.pk}: completed; the patient is anonymised.", messages.SUCCESS
                )
        return None

    @admin.action(description="Refuse the selected requests (with the reason written on each)", permissions=["change"])
    def refuse_selected(self, request, queryset):
        for erasure_request in queryset:
            try:
                erasure.refuse_erasure(erasure_request, by=request.user, reason=erasure_request.refusal_reason)
            except erasure.ErasureError as error:
                self.message_user(request, f"Request {erasure_request.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"Request {erasure_request.pk}: refused.", messages.SUCCESS)
