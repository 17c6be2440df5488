from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    *[path(f"{slug}/", views.report_view(slug), name=slug) for slug in views.REPORTS],
]
