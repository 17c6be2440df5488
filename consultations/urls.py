from django.urls import path

from . import views

urlpatterns = [
    path("", views.intake_home, name="intake_home"),
    path("form/", views.intake_form, name="intake_form"),
    path("consent/", views.consent_sign, name="consent_sign"),
    # Stable: the 7-day pre-care reminder links here with the appointment's id.
    path("confirm/<int:appointment_id>/", views.intake_confirm, name="intake_confirm"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/<int:intake_id>/", views.intake_review, name="intake_review"),
]
