from django.contrib import admin

from .models import DepositPolicy, Document, Package, PatientPackage, Payment, ProviderEvent, Refund


@admin.register(DepositPolicy)
class DepositPolicyAdmin(admin.ModelAdmin):
    list_display = ("treatment", "kind", "amount", "percent")


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    list_display = ("name", "treatment", "sessions", "price", "currency", "valid_days", "active")
    list_filter = ("active",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money records are written by the services only (the till, the webhook); the admin reads them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "patient",
        "purpose",
        "method",
        "amount",
        "currency",
        "status",
        "deposit_outcome",
        "created_at",
    )
    list_filter = ("status", "purpose", "method")
    list_select_related = ("patient__user",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("pk", "payment", "amount", "currency", "status", "created_at")
    list_filter = ("status",)


@admin.register(PatientPackage)
class PatientPackageAdmin(ReadOnlyAdmin):
    list_display = ("pk", "patient", "package", "sessions_used", "sessions_total", "status", "expires_at")


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "patient", "total", "currency", "issued_at", "email_status", "email_attempts")
    list_filter = ("kind", "email_status")


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "received_at", "outcome")
