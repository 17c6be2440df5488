"""A patient's rights over their data, under /accounts/ beside the account pages (clinic.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("my-data/", views.my_data, name="my_data"),
    path("my-data.json", views.my_data_json, name="my_data_json"),
    path("erase/", views.erasure_request, name="erasure_request"),
]
