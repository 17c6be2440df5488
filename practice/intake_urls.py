"""The patient's confirmation before a session, under /intake/ beside the health form (consultations.urls).

Stable: the 7-day pre-care reminder links here with the appointment's id.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("confirm/<int:appointment_id>/", views.intake_confirm, name="intake_confirm"),
]
