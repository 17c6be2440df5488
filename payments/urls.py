from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("", views.my_payments, name="mine"),
    path("deposit/<int:appointment_id>/", views.deposit, name="deposit"),
    path("deposit/<int:appointment_id>/paid/", views.deposit_return, name="deposit_return"),
    path("documents/<int:pk>.pdf", views.document_pdf, name="document_pdf"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("desk/patients/<int:patient_id>/take/", views.desk_take, name="desk_take"),
    path("desk/patients/<int:patient_id>/package/", views.desk_sell_package, name="desk_sell_package"),
    path("desk/payments/<int:pk>/refund/", views.desk_refund, name="desk_refund"),
    path("desk/payments/<int:pk>/waive-fee/", views.desk_waive_fee, name="desk_waive_fee"),
    path("desk/appointments/<int:pk>/invoice/", views.desk_invoice, name="desk_invoice"),
    path("desk/packages/<int:pk>/refund/", views.desk_package_refund, name="desk_package_refund"),
]
