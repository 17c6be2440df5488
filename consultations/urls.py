from django.urls import path

from . import views

urlpatterns = [
    path("", views.intake_home, name="intake_home"),
    path("form/", views.intake_form, name="intake_form"),
    path("consent/", views.consent_sign, name="consent_sign"),
    # confirm/<appointment id>/ (intake_confirm) is practice's: practice/intake_urls.py
    path("review/", views.review_queue, name="review_queue"),
    path("review/<int:intake_id>/", views.intake_review, name="intake_review"),
]
