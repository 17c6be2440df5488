"""A patient's rights over their data: a full copy (JSON and a printable page), and erasure on request,
completed by a clinic admin, that anonymises the person and keeps the clinical record."""

import datetime
import io
import json
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from bookings.models import AftercareCheckIn, Appointment
from clinic import roles
from clinic.patient_data import patient_data
from consultations import practice_services
from consultations import services as consultation_services
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, staff_user, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def png_upload():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 120)).save(buffer, format="PNG")
    return SimpleUploadedFile("thighs.png", buffer.getvalue(), content_type="image/png")


def recorded_session(patient, *, hours_ago=3, with_photo=False):
    """A past appointment of the patient with its session record (which completes it)."""
    start = (timezone.now() - datetime.timedelta(hours=hours_ago)).replace(microsecond=0)
    appointment = AppointmentFactory(patient=patient, start_at=start, status=Appointment.Status.CHECKED_IN)
    record = practice_services.record_session(
        appointment,
        by=appointment.practitioner.user,
        details={
            "device": "Dermapen 4",
            "needle_depth_mm": Decimal("1.25"),
            "passes": 3,
            "product": "Hyaluronic serum",
            "reactions": "Mild redness",
            "notes": "PRIVATE-NOTE only for clinicians",
        },
        areas=[("thighs", "hexsel", 9)],
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
        intake, reviewer=PractitionerFactory().user, decision="cleared", message_to_patient=f"{tag} is fine"
    )
    consultation_services.sign_consent(patient, signed_name=f"{tag} Signature")
    appointment = recorded_session(patient, with_photo=True)
    AftercareCheckIn.objects.create(appointment=appointment, answer="fine", details=f"{tag} healing well")
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
    assert data["account"]["email"] == "alice@example.com" and data["account"]["phone"] == "07700 900111"
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

    text = response.content.decode()
    for trace_of_bob in ("bob@example.com", "Bobson", "Bob-vitamin", "Bob Signature", "900222", "Bob healing"):
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
        assert client.get(url).status_code == 404, staff
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
    with django_assert_max_num_queries(QUERIES_FOR_A_COPY):
        ten = patient_data(patient)
    assert len(one["session_records"]) == 1 and len(ten["session_records"]) == 10
    assert len(ten["reminders"]) > len(one["reminders"])


QUERIES_FOR_A_COPY = 18  # one per kind of record (and prefetch), whatever the number of rows
