from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

urlpatterns = [
    path("v1/treatments/", views.treatment_list, name="api_treatment_list"),
    path("v1/treatments/<slug:slug>/", views.treatment_detail, name="api_treatment_detail"),
    path("v1/practitioners/", views.practitioner_list, name="api_practitioner_list"),
    path("v1/practitioners/<slug:slug>/", views.practitioner_detail, name="api_practitioner_detail"),
    path("v1/availability/", views.availability_view, name="api_availability"),
    path("v1/appointments/", views.appointment_list, name="api_appointment_list"),
    path("v1/appointments/<int:pk>/", views.appointment_detail, name="api_appointment_detail"),
    path("v1/appointments/<int:pk>/cancel/", views.appointment_cancel, name="api_appointment_cancel"),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", views.api_docs, name="api_docs"),
]
