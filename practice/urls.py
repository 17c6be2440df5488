from django.urls import path

from . import views

urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("patients/<int:patient_id>/", views.patient_record, name="practice_patient"),
    path("patients/<int:patient_id>/course-plan/", views.set_course_plan, name="practice_course_plan"),
    path("appointments/<int:appointment_id>/record/", views.session_record, name="practice_session_record"),
    path("photos/<int:photo_id>/", views.photo, name="session_photo"),
]
