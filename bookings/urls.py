from django.urls import path

from . import views

urlpatterns = [
    path("book/", views.book_start, name="book_start"),
    path("book/<slug:slug>/", views.book_treatment, name="book_treatment"),
    path("book/<slug:slug>/times/", views.book_times, name="book_times"),
    path("book/<slug:slug>/confirm/", views.book_confirm, name="book_confirm"),
    path("appointments/", views.my_appointments, name="my_appointments"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment_detail"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment_cancel"),
    path("appointments/<int:pk>/reschedule/", views.appointment_reschedule, name="appointment_reschedule"),
    path(
        "appointments/<int:pk>/reschedule/times/",
        views.appointment_reschedule_times,
        name="appointment_reschedule_times",
    ),
]
