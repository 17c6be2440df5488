from django.urls import path

from . import views

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("patients/<int:patient_id>/", views.patient_record, name="practice_patient"),
    path("patients/<int:patient_id>/course-plan/", views.set_course_plan, name="practice_course_plan"),
    path("patients/<int:patient_id>/alerts/", views.pin_alert, name="practice_pin_alert"),
    path("patients/<int:patient_id>/alerts/<int:alert_id>/unpin/", views.unpin_alert, name="practice_unpin_alert"),
    path("appointments/<int:appointment_id>/record/", views.session_record, name="practice_session_record"),
    path("photos/<int:photo_id>/", views.photo, name="session_photo"),
]
