from django.urls import path

from . import panel, views

app_name = "desk"

urlpatterns = [
    path("", views.calendar_day, name="calendar"),
    path("week/<int:practitioner_id>/", views.calendar_week, name="week"),
    path("week/", views.week_overview, name="week_all"),
    path("month/", views.month_overview, name="month"),
    path("panel/book/", panel.book_panel, name="panel_book"),
    path("panel/patients/", panel.patient_matches, name="panel_patients"),
    path("panel/appointments/<int:pk>/", panel.appointment_panel, name="panel_appointment"),
    path("panel/appointments/<int:pk>/move/", panel.move_panel, name="panel_move"),
    path("day-sheet/<int:practitioner_id>/", views.day_sheet, name="day_sheet"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment"),
    path("appointments/<int:pk>/move/", views.appointment_move, name="move"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="cancel"),
    path("appointments/<int:pk>/<slug:action>/", views.appointment_status, name="status"),
    path("patients/", views.patient_search, name="patients"),
    path("patients/new/", views.patient_new, name="patient_new"),
    path("patients/<int:pk>/", views.patient_detail, name="patient"),
    path("patients/<int:pk>/form-link/", views.patient_form_link, name="patient_form_link"),
    path("patients/<int:patient_id>/book/", views.book, name="book"),
    path("closures/", views.closures, name="closures"),
    path("closures/<int:pk>/remove/", views.closure_remove, name="closure_remove"),
    path("rota/", views.rota, name="rota"),
    path("rota/<int:practitioner_id>/", views.rota_edit, name="rota_edit"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/done/", views.inbox_done, name="inbox_done"),
    path("messages/<int:pk>/send-again/", views.reminder_send_again, name="reminder_send_again"),
]
