"""A patient's rights over their data: a full copy (JSON and a printable page), and erasure on request,
completed by a clinic admin, that anonymises the person and keeps the clinical record."""

import datetime
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from axes.models import AccessLog
from django.apps import apps
from django.core import mail
from django.db.models import CharField, Q, TextField
from django.urls import reverse
from django.utils import timezone

from bookings import links, waitlist
from bookings.models import AftercareCheckIn, Appointment, InboundMessage, Reminder, SignedLink, WaitlistEntry
from bookings.reminders import inbound
from clinic import roles
from clinic.models import ErasureRequest, User
from consultations import services as consultation_services
from consultations.models import Consent, IntakeForm, Review
from operations import erasure
from operations.patient_data import patient_data
from practice import services as practice_services
from practice.models import SessionPhoto, SessionRecord
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    png_upload,
    record_session_for,
    staff_user,
    submitted_intake,
)
from tests.helpers import book_online, open_every_day

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def recorded_session(patient, *, hours_ago=3, with_photo=False):
    """A past appointment of the patient with its session record (which completes it)."""
    start = (timezone.now() - datetime.timedelta(hours=hours_ago)).replace(microsecond=0)
    appointment = AppointmentFactory(patient=patient, start_at=start, status=Appointment.Status.CHECKED_IN)
    record = record_session_for(
        appointment,
        areas=[("thighs", "hexsel", 9)],
        device="Dermapen 4",
        needle_depth_mm=Decimal("1.25"),
        passes=3,
        product="Hyaluronic serum",
        reactions="Mild redness",
        notes="PRIVATE-NOTE only for clinicians",
    )
    if with_photo:
        practice_services.give_photo_consent(patient)
        practice_services.add_photo(record, png_upload(), by=appointment.practitioner.user, area="thighs")
    return appointment


def patient_with_a_history(tag: str, **user):
    """A patient with a sent health form, a review, a consent, a recorded session with a photo, an aftercare
    answer: every kind of record, each carrying `tag` so another patient's copy can be searched for it."""
    patient = PatientFactory(user__email=f"{tag.lower()}@example.com", user__last_name=f"{tag}son", **user)
    intake = submitted_intake(patient, other_medicines=f"{tag}-vitamin <script>alert('{tag}')</script>")
    consultation_services.record_review(
        intake,
        reviewer=PractitionerFactory().user,
        decision="cleared",
        message_to_patient=f"{tag} is fine",
        free_text_read=True,
    )
    consultation_services.sign_consent(patient, signed_name=f"{tag} Signature")
    appointment = recorded_session(patient, with_photo=True)
    AftercareCheckIn.objects.create(appointment=appointment, answer="fine", details=f"{tag} healing well")
    inbound.receive(provider_ref=f"SM-{tag}-1", from_number=patient.phone, body=f"{tag} here: is parking free?")
    links.make_link(patient=patient, action=SignedLink.Action.HEALTH_FORM)
    return patient


def download(client, patient):
    client.force_login(patient.user)
    response = client.get(reverse("my_data_json"))
    assert response.status_code == 200
    return response


# --- the copy ---------------------------------------------------------------------------------------------


def test_the_json_copy_holds_the_patients_data_and_nothing_of_another_patient(client):
    alice = patient_with_a_history("Alice", phone="07700 900111")
    bob = patient_with_a_history("Bob", phone="07700 900222")
    response = download(client, alice)

    today = timezone.localdate()
    assert response["Content-Disposition"] == f'attachment; filename="my-clinic-data-{today:%Y-%m-%d}.json"'
    assert response["Cache-Control"] == "private, no-store"
    data = json.loads(response.content)
    assert data["account"]["email"] == "alice@example.com" and data["account"]["phone"] == "+447700900111"
    assert [a["id"] for a in data["appointments"]] == list(alice.appointments.values_list("pk", flat=True))
    assert data["appointments"][0]["status"] == "Completed"
    answers = [q["answer"] for s in data["health_form"]["answers"] for q in s["questions"]]
    assert any("Alice-vitamin" in answer for answer in answers)
    assert data["health_form"]["reviews"][0]["message_to_you"] == "Alice is fine"
    assert data["consents"][0]["signed_name"] == "Alice Signature"
    [record] = data["session_records"]
    assert record["device"] == "Dermapen 4" and record["areas"][0]["grade"] == 9
    assert record["photos"][0]["file_type"] == "image/png"
    assert data["reminders"], "the messages about the appointment are listed"
    assert data["aftercare_check_ins"][0]["details"] == "Alice healing well"
    [text] = data["texts_you_sent"]
    assert (text["from"], text["text"]) == ("+447700900111", "Alice here: is parking free?")
    assert text["taken_as"] == "Other reply" and text["for_the_front_desk"] and text["dealt_with"] is None
    assert [m["message"] for m in data["other_messages"]] == ["Your health form has been reviewed"]
    [link] = data["links_sent"]
    assert link["what"] == "Fill in the health form and sign the consent" and link["used"] is None

    text = response.content.decode()
    bob_traces = ("bob@example.com", "Bobson", "Bob-vitamin", "Bob Signature", "900222", "Bob healing", "Bob here")
    for trace_of_bob in bob_traces:
        assert trace_of_bob not in text
    assert str(bob.appointments.get().pk) not in [str(a["id"]) for a in data["appointments"]]


def test_times_are_in_the_clinics_zone_with_their_offset(client):
    patient = PatientFactory()
    summer = datetime.datetime(2026, 7, 1, 9, 0, tzinfo=datetime.UTC)  # 10:00 BST
    AppointmentFactory(patient=patient, start_at=summer)
    data = json.loads(download(client, patient).content)
    assert data["appointments"][0]["start"] == "2026-07-01T10:00:00+01:00"


def test_practitioners_private_notes_and_photo_bytes_are_not_in_the_copy_and_it_says_so(client):
    patient = patient_with_a_history("Carol")
    response = download(client, patient)
    assert b"PRIVATE-NOTE" not in response.content
    assert b"PNG" not in response.content
    assert "Practitioners' private notes" in " ".join(json.loads(response.content)["not_included"])


def test_the_printable_page_shows_the_data_and_escapes_script_in_answers(client):
    patient = patient_with_a_history("Dora")
    client.force_login(patient.user)
    response = client.get(reverse("my_data"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Dora-vitamin &lt;script&gt;alert(&#x27;Dora&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "dora@example.com" in page and "Dermapen 4" in page and "Dora Signature" in page
    photo = patient_data(patient)["session_records"][0]["photos"][0]
    assert reverse("session_photo", args=[photo["id"]]) in page


def test_the_profile_page_links_to_both_copies(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get(reverse("profile")).content.decode()
    assert reverse("my_data") in page and reverse("my_data_json") in page


@pytest.mark.parametrize("url_name", ["my_data", "my_data_json"])
def test_only_a_signed_in_patient_gets_a_copy_and_only_their_own(client, sign_in, url_name):
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for staff in (
        PractitionerFactory().user,
        staff_user(roles.FRONT_DESK),
        staff_user(roles.CLINIC_ADMIN),
    ):
        sign_in(client, staff)
        assert client.get(url).status_code == 403, staff  # staff have no patient record (clinic.access)
    alice, bob = PatientFactory(user__last_name="Alicesurname"), PatientFactory(user__last_name="Bobsurname")
    client.force_login(bob.user)
    body = client.get(url).content.decode()
    assert "Bobsurname" in body and "Alicesurname" not in body
    assert alice


def test_every_download_is_in_the_audit_trail(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    client.get(reverse("my_data_json"))
    client.get(reverse("my_data"))
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__patient_id=patient.pk)
    assert sorted(entry.changes_dict["viewed"] for entry in reads) == [
        "own data export (JSON)",
        "own data export (printable page)",
    ]
    assert {entry.actor_id for entry in reads} == {patient.user_id}
    # The next copy lists the earlier downloads among the reads of the record.
    data = json.loads(client.get(reverse("my_data_json")).content)
    assert [a["what"] for a in data["record_accesses"]] == [
        "own data export (JSON)",
        "own data export (printable page)",
    ]


def test_the_copy_costs_the_same_queries_for_one_session_or_ten(django_assert_max_num_queries):
    patient = patient_with_a_history("Eve")
    with django_assert_max_num_queries(QUERIES_FOR_A_COPY):
        one = patient_data(patient)
    for hours_ago in range(5, 50, 5):
        appointment = recorded_session(patient, hours_ago=hours_ago, with_photo=True)
        AftercareCheckIn.objects.create(appointment=appointment, answer="redness")
        inbound.receive(provider_ref=f"SM-Eve-{hours_ago}", from_number=patient.phone, body="Thanks!")
        links.make_link(patient=patient, action=SignedLink.Action.HEALTH_FORM)
    with django_assert_max_num_queries(QUERIES_FOR_A_COPY):
        ten = patient_data(patient)
    assert len(one["session_records"]) == 1 and len(ten["session_records"]) == 10
    assert len(ten["reminders"]) > len(one["reminders"])
    assert len(ten["texts_you_sent"]) == 10 and len(ten["links_sent"]) == 10


QUERIES_FOR_A_COPY = 26  # one per kind of record (and prefetch), whatever the number of rows; 5 are payments'


# --- asking for erasure -------------------------------------------------------------------------------------


def ask(client, patient, **data):
    client.force_login(patient.user)
    return client.post(reverse("erasure_request"), {"password": PASSWORD, "understood": "on", **data})


def test_a_patient_asks_with_their_password_and_nothing_is_erased_yet(client, django_capture_on_commit_callbacks):
    patient = PatientFactory(user__last_name="Askerson")
    client.force_login(patient.user)
    page = client.get(reverse("erasure_request")).content.decode()
    assert "8 years after your last treatment" in page and "keep a copy of your data" in page

    response = ask(client, patient, password="not my password")
    assert response.status_code == 400 and "That is not your password" in response.content.decode()
    response = client.post(reverse("erasure_request"), {"password": PASSWORD})
    assert response.status_code == 400 and not ErasureRequest.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = ask(client, patient)
    page = client.get(response["Location"]).content.decode()
    assert "Your request is sent" in page and "nothing is erased" in page
    request = ErasureRequest.objects.get(patient=patient)
    assert request.status == ErasureRequest.Status.REQUESTED
    [email] = mail.outbox
    assert str(request.pk) in email.body and "Askerson" not in email.body + email.subject
    patient.user.refresh_from_db()
    assert patient.user.last_name == "Askerson" and patient.user.is_active

    ask(client, patient)  # asking again while one is open adds nothing
    assert ErasureRequest.objects.filter(patient=patient).count() == 1
    assert "You asked on" in client.get(reverse("erasure_request")).content.decode()


def test_the_erasure_page_is_for_patients_only(client, sign_in):
    url = reverse("erasure_request")
    assert client.get(url).status_code == 302
    for staff in (PractitionerFactory().user, staff_user(roles.FRONT_DESK), staff_user(roles.CLINIC_ADMIN)):
        sign_in(client, staff)
        assert client.get(url).status_code == 403
        assert client.post(url, {"password": PASSWORD, "understood": "on"}).status_code == 403
    assert not ErasureRequest.objects.exists()


# --- completing it --------------------------------------------------------------------------------------

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def bookable():
    """A treatment, a practitioner working every day and a room: real free times to book."""
    treatment = TreatmentFactory(min_days_between_sessions=0)
    RoomFactory()
    return treatment, open_every_day(PractitionerFactory(treatments=[treatment]))


def ten_days_ahead_at_ten():
    day = timezone.localdate() + datetime.timedelta(days=10)
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON).astimezone(datetime.UTC)


@pytest.fixture
def asking_patient(bookable, client):
    """Zed: a full history, a future booking, a waitlist entry, a sign-in record, and an open request."""
    treatment, practitioner = bookable
    patient = patient_with_a_history("Zed", phone="07700 900333", user__first_name="Zelda")
    book_online(patient, treatment, practitioner, ten_days_ahead_at_ten())
    waitlist.join_waitlist(patient=patient, treatment=treatment, by=patient.user)
    client.post(reverse("login"), {"username": "zed@example.com", "password": PASSWORD})
    assert AccessLog.objects.filter(username="zed@example.com").exists()
    # A text from Zed's number before it was known (the desk's inbox has it as an unknown number).
    InboundMessage.objects.create(
        provider_ref="SM-before",
        from_number="+447700900333",
        body="Zelda here",
        received_at=timezone.now(),
        intent=InboundMessage.Intent.UNKNOWN,
        needs_desk=True,
    )
    erasure.request_erasure(patient)
    return patient


ZEDS_DETAILS = ("zed@example.com", "Zedson", "Zelda", "900333", "Zed Signature", "Sam Example", "Zed here")


def rows_mentioning(text: str) -> list[str]:
    """Every text column of the clinic's own tables and of the sign-in records that contains `text`."""
    found = []
    for label in ("clinic", "bookings", "consultations", "axes"):
        for model in apps.get_app_config(label).get_models():
            columns = [f.name for f in model._meta.concrete_fields if isinstance(f, CharField | TextField)]
            match = Q()
            for column in columns:
                match |= Q(**{f"{column}__icontains": text})
            if columns and model.objects.filter(match).exists():
                found.append(f"{model._meta.label} ({text})")
    return found


def complete_in_admin(client, sign_in, erasure_request):
    admin = sign_in(client, staff_user(roles.CLINIC_ADMIN))
    url = reverse("admin:clinic_erasurerequest_changelist")
    action = {"action": "complete_selected", "_selected_action": [erasure_request.pk]}
    status = ErasureRequest.objects.get(pk=erasure_request.pk).status
    confirm = client.post(url, action)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert ErasureRequest.objects.get(pk=erasure_request.pk).status == status  # nothing until confirmed
    return admin, client.post(url, {**action, "confirmed": "yes"}, follow=True)


def test_an_admin_completes_it_anonymising_the_person_and_keeping_the_clinical_record(
    client, sign_in, asking_patient, bookable
):
    patient = asking_patient
    treatment, practitioner = bookable
    request = patient.erasure_requests.get()
    future = patient.appointments.get(status=Appointment.Status.BOOKED)
    clinical_rows = {
        "appointments": patient.appointments.count(),
        "session records": SessionRecord.objects.filter(patient=patient).count(),
        "photos": SessionPhoto.objects.filter(record__patient=patient).count(),
        "reviews": Review.objects.filter(intake__patient=patient).count(),
        "consents": Consent.objects.filter(patient=patient).count(),
    }
    photo = SessionPhoto.objects.get(record__patient=patient)
    trail_before = LogEntry.objects.count()
    for detail in ZEDS_DETAILS:
        assert rows_mentioning(detail), f"the set-up holds {detail}"

    admin, response = complete_in_admin(client, sign_in, request)

    assert "completed; the patient is anonymised" in response.content.decode()
    for detail in ZEDS_DETAILS:
        assert rows_mentioning(detail) == []
    patient.refresh_from_db()
    patient.user.refresh_from_db()
    assert str(patient) == f"Erased patient {patient.pk}"
    assert patient.user.email == f"erased-patient-{patient.pk}@patients.invalid"
    assert patient.phone == "" and patient.date_of_birth == datetime.date(1990, 1, 1)
    assert not patient.user.is_active and not patient.user.has_usable_password()

    # The clinical record stays, on the anonymised patient.
    assert clinical_rows == {
        "appointments": patient.appointments.count(),
        "session records": SessionRecord.objects.filter(patient=patient).count(),
        "photos": SessionPhoto.objects.filter(record__patient=patient).count(),
        "reviews": Review.objects.filter(intake__patient=patient).count(),
        "consents": Consent.objects.filter(patient=patient).count(),
    }
    assert "Zed-vitamin" in IntakeForm.objects.get(patient=patient).other_medicines
    assert photo.image.storage.exists(photo.image.name)

    # What lay ahead is gone: the booking (its time free for others), the messages, the waitlist.
    future.refresh_from_db()
    assert future.status == Appointment.Status.CANCELLED and "erased at their request" in future.cancellation_reason
    assert not Reminder.objects.filter(appointment__patient=patient, status__in=Reminder.UNSENT_STATUSES).exists()
    assert not WaitlistEntry.objects.filter(patient=patient).exists()
    assert not SignedLink.objects.filter(patient=patient, used_at__isnull=True, expires_at__gt=timezone.now()).exists()
    # Zed's texts: the words and the number are gone (above), the rows are out of the desk's inbox.
    texts = InboundMessage.objects.filter(provider_ref__in=["SM-Zed-1", "SM-before"])
    assert texts.count() == 2 and set(texts.values_list("handled_by", flat=True)) == {admin.pk}
    assert not [m for m in inbound.open_inbox() if m.provider_ref in ("SM-Zed-1", "SM-before")]
    other = book_online(ClearedPatientFactory(), treatment, practitioner, ten_days_ahead_at_ten())
    assert other.start_at == future.start_at

    # The request is closed, with how long the record is kept; the audit trail grew and lost nothing.
    request.refresh_from_db()
    last_treatment = timezone.localtime(patient.appointments.get(status="completed").start_at).date()
    assert request.status == ErasureRequest.Status.COMPLETED and request.closed_by == admin
    assert request.retain_until == last_treatment.replace(year=last_treatment.year + 8)
    assert LogEntry.objects.count() > trail_before
    erased = LogEntry.objects.get(additional_data__erasure_request=request.pk)
    assert erased.actor == admin and "zed@example.com" not in json.dumps(erased.changes)


def test_an_erased_patient_can_no_longer_sign_in(client, sign_in, asking_patient):
    patient = asking_patient
    signed_in = type(client)()
    signed_in.force_login(patient.user)
    complete_in_admin(client, sign_in, patient.erasure_requests.get())

    assert signed_in.get(reverse("profile")).status_code == 302  # the open session is no longer theirs
    fresh = type(client)()
    fresh.post(reverse("login"), {"username": "zed@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in fresh.session
    placeholder = User.objects.get(pk=patient.user_id).email
    fresh.post(reverse("login"), {"username": placeholder, "password": PASSWORD})
    assert "_auth_user_id" not in fresh.session


def test_completion_is_all_or_nothing(asking_patient):
    patient = asking_patient
    request = patient.erasure_requests.get()
    # The last step fails for real: the placeholder address is taken (unique email).
    User.objects.create_user(email=erasure.placeholder_email(patient), password=None)
    with pytest.raises(erasure.ErasureError, match="failed and nothing was changed"):
        erasure.complete_erasure(request, by=staff_user(roles.CLINIC_ADMIN))

    patient.refresh_from_db()
    assert patient.user.email == "zed@example.com" and patient.phone == "+447700900333" and patient.user.is_active
    assert patient.appointments.filter(status=Appointment.Status.BOOKED).count() == 1
    assert Reminder.objects.filter(appointment__patient=patient, status=Reminder.Status.PENDING).exists()
    assert WaitlistEntry.objects.filter(patient=patient).exists()
    assert IntakeForm.objects.get(patient=patient).emergency_contact_name == "Sam Example"
    assert Consent.objects.get(patient=patient).signed_name == "Zed Signature"
    assert AccessLog.objects.filter(username="zed@example.com").exists()
    request.refresh_from_db()
    assert request.is_open and request.closed_at is None


def test_a_second_completion_is_refused_clearly(client, sign_in, asking_patient):
    request = asking_patient.erasure_requests.get()
    complete_in_admin(client, sign_in, request)
    _, response = complete_in_admin(client, sign_in, request)
    assert f"Request {request.pk} is already closed (completed" in response.content.decode()
    with pytest.raises(erasure.ErasureError, match="nothing was changed"):
        erasure.complete_erasure(request, by=staff_user(roles.CLINIC_ADMIN))
    assert LogEntry.objects.filter(additional_data__erasure_request=request.pk).count() == 1


def test_an_appointment_in_progress_must_be_finished_first():
    patient = PatientFactory(user__last_name="Busyson")
    AppointmentFactory(patient=patient, start_at=timezone.now() - datetime.timedelta(minutes=10), status="checked_in")
    request = erasure.request_erasure(patient)
    with pytest.raises(erasure.ErasureError, match="still checked in: mark it completed or a no-show first"):
        erasure.complete_erasure(request, by=staff_user(roles.CLINIC_ADMIN))
    patient.user.refresh_from_db()
    assert patient.user.last_name == "Busyson"
    request.refresh_from_db()
    assert request.is_open


def test_only_a_clinic_admin_completes_or_refuses(client, sign_in):
    request = erasure.request_erasure(PatientFactory())
    desk = staff_user(roles.FRONT_DESK)
    with pytest.raises(erasure.ErasureError, match="Only a clinic admin"):
        erasure.complete_erasure(request, by=desk)
    with pytest.raises(erasure.ErasureError, match="Only a clinic admin"):
        erasure.refuse_erasure(request, by=desk, reason="No")
    desk.is_staff = True
    desk.save()
    sign_in(client, desk)
    assert client.get(reverse("admin:clinic_erasurerequest_changelist")).status_code == 403
    request.refresh_from_db()
    assert request.is_open


def test_a_refusal_needs_a_reason_and_the_patient_reads_it_and_may_ask_again(client, sign_in):
    patient = PatientFactory()
    request = erasure.request_erasure(patient)
    admin = staff_user(roles.CLINIC_ADMIN)
    with pytest.raises(erasure.ErasureError, match="Write the reason"):
        erasure.refuse_erasure(request, by=admin, reason="  ")
    erasure.refuse_erasure(request, by=admin, reason="You have an open complaint <b>case</b> with us.")
    client.force_login(patient.user)
    page = client.get(reverse("erasure_request")).content.decode()
    assert "was refused" in page and "open complaint &lt;b&gt;case&lt;/b&gt;" in page and "You may ask again" in page
    ask(client, patient)
    assert patient.erasure_requests.filter(status=ErasureRequest.Status.REQUESTED).count() == 1


def test_a_clinic_admin_exports_a_patients_data_for_a_request_by_post_and_it_is_audited(client, sign_in):
    patient, other = PatientFactory(user__last_name="Postson"), PatientFactory(user__last_name="Otherson")
    url = reverse("admin:clinic_patient_changelist")
    action = {"action": "export_data", "_selected_action": [patient.pk]}
    desk = staff_user(roles.FRONT_DESK)
    desk.is_staff = True
    desk.save()
    sign_in(client, desk)
    refused = client.post(url, action, follow=True)
    assert "Postson" not in refused.get("Content-Disposition", "") and refused["Content-Type"].startswith("text/html")

    admin = sign_in(client, staff_user(roles.CLINIC_ADMIN))
    response = client.post(url, action)
    assert response["Content-Disposition"].startswith(f'attachment; filename="patient-{patient.pk}-data-')
    data = json.loads(response.content)
    assert data["account"]["last_name"] == "Postson" and b"Otherson" not in response.content
    read = LogEntry.objects.get(action=LogEntry.Action.ACCESS, additional_data__patient_id=patient.pk)
    assert read.actor == admin and read.changes_dict["viewed"] == "data export by staff (JSON)"
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__patient_id=other.pk).exists()
