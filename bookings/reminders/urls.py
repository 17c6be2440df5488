from django.urls import path

from bookings.reminders import views

urlpatterns = [
    path("<int:appointment_id>/", views.aftercare_check_in, name="aftercare_check_in"),
]
