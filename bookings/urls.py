from django.urls import path

from . import link_views, views, waitlist_views
from .reminders import webhooks

urlpatterns = [
    # Signed links in messages (bookings/links.py): short, so they fit in a text message.
    path("l/<str:token>/", link_views.signed_link, name="signed_link"),
    path("accounts/set-password/", link_views.set_password, name="link_set_password"),
    # The SMS provider's webhooks (signed by Twilio; see bookings/reminders/webhooks.py).
    path("sms/status/", webhooks.sms_status, name="sms_status"),
    path("sms/inbound/", webhooks.sms_inbound, name="sms_inbound"),
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
    path("waitlist/", waitlist_views.waitlist_mine, name="waitlist_mine"),
    path("waitlist/join/", waitlist_views.waitlist_join, name="waitlist_join"),
    path("waitlist/<int:pk>/leave/", waitlist_views.waitlist_leave, name="waitlist_leave"),
    path("waitlist/offers/<int:pk>/", waitlist_views.waitlist_offer, name="waitlist_offer"),
    path("waitlist/desk/", waitlist_views.waitlist_desk, name="waitlist_desk"),
    path("waitlist/desk/add/", waitlist_views.waitlist_desk_add, name="waitlist_desk_add"),
    path("waitlist/desk/<int:pk>/remove/", waitlist_views.waitlist_desk_remove, name="waitlist_desk_remove"),
]
