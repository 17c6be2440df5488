from django.urls import path

from . import views

urlpatterns = [
    path("", views.my_progress, name="my_progress"),
    path("photo-consent/", views.photo_consent, name="photo_consent"),
]
