from django.urls import path

from . import calendar_views

urlpatterns = [
    path("appointments/<int:pk>/calendar.ics", calendar_views.appointment_ics, name="appointment_ics"),
    path("calendar/<str:token>.ics", calendar_views.practitioner_calendar_feed, name="practitioner_calendar_feed"),
    path(
        "practitioners/<slug:slug>/calendar/",
        calendar_views.practitioner_calendar_settings,
        name="practitioner_calendar_settings",
    ),
]
