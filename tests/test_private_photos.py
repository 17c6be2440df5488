"""Progress photos: only with the patient's consent, validated by content, kept outside MEDIA_ROOT and
served only to the patient, their practitioners and admins, with every access recorded."""

import datetime
import io
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from bookings.models import Appointment
from clinic import roles
from practice import photos
from practice import services as practice_services
from practice.models import PhotoConsent, SessionPhoto, SessionRecord
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    make_safe_to_record,
    png_bytes,
    png_upload,
    staff_user,
)

pytestmark = pytest.mark.django_db

RECORD = {
    "scale": "hexsel",
    "treated_thighs": "on",
    "grade_thighs": "9",
    "device": "Dermapen 4",
    "needle_depth_mm": "1.0",
    "passes": "2",
}


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def appointment():
    start = timezone.now() - datetime.timedelta(hours=1)
    appointment = AppointmentFactory(start_at=start, status=Appointment.Status.CHECKED_IN)
    make_safe_to_record(appointment.patient)
    return appointment


@pytest.fixture
def consenting(appointment):
    practice_services.give_photo_consent(appointment.patient)
    return appointment


def post_record(client, appointment, upload):
    client.force_login(appointment.practitioner.user)
    return client.post(
        reverse("practice_session_record", args=[appointment.pk]), {**RECORD, "photo": upload}, follow=True
    )


def test_patient_gives_and_withdraws_photo_consent_on_my_progress(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.post(reverse("photo_consent"), {"choice": "give"}, follow=True).content.decode()
    assert "may take progress photos" in page and "Stop progress photos" in page
    page = client.post(reverse("photo_consent"), {"choice": "withdraw"}, follow=True).content.decode()
    assert "no more progress photos" in page and "Allow progress photos" in page
    assert not PhotoConsent.objects.get(patient=patient).is_given


def test_a_photo_with_consent_is_kept_privately_outside_media(client, consenting, private_root):
    response = post_record(client, consenting, png_upload())
    assert "Session recorded" in response.content.decode()
    photo = SessionPhoto.objects.get()
    stored = Path(photo.image.path)
    assert stored.is_file() and private_root in stored.parents
    assert Path(settings.MEDIA_ROOT) not in stored.parents
    assert "thighs" not in stored.name  # nothing about the patient in the file name
    assert photo.content_type == "image/png"
    url = reverse("session_photo", args=[photo.pk])
    assert not url.startswith("/" + settings.MEDIA_URL.strip("/"))
    with pytest.raises(ValueError):
        _ = photo.image.url  # private storage has no public URL at all


def test_without_consent_no_photo_is_kept_and_nothing_is_saved(client, appointment):
    response = post_record(client, appointment, png_upload())
    assert "not agreed to progress photos" in response.content.decode()
    assert not SessionPhoto.objects.exists()


def test_after_withdrawal_no_new_photo_is_kept(client, consenting):
    practice_services.withdraw_photo_consent(consenting.patient)
    post_record(client, consenting, png_upload())
    assert not SessionPhoto.objects.exists()


@pytest.mark.parametrize(
    "upload, message",
    [
        (SimpleUploadedFile("x.png", b"%PDF-1.4 not an image", content_type="image/png"), "not a photo we can read"),
        (SimpleUploadedFile("x.jpg", b"<script>alert(1)</script>", content_type="image/jpeg"), "not a photo we can"),
    ],
)
def test_a_non_image_upload_saves_nothing(client, consenting, upload, message):
    response = post_record(client, consenting, upload)
    page = response.content.decode()
    assert "Nothing was saved" in page and message in page
    assert not SessionPhoto.objects.exists() and not SessionRecord.objects.exists()


def test_an_image_over_the_size_limit_is_refused(client, consenting, monkeypatch):
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 20)
    response = post_record(client, consenting, png_upload())
    assert "too large" in response.content.decode()
    assert not SessionPhoto.objects.exists()


def test_a_gif_is_an_image_but_not_accepted(client, consenting):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="GIF")
    post_record(client, consenting, SimpleUploadedFile("x.gif", buffer.getvalue(), content_type="image/gif"))
    assert not SessionPhoto.objects.exists()


def test_photo_is_served_only_to_the_patient_their_practitioners_and_admins(client, sign_in, consenting):
    post_record(client, consenting, png_upload())
    photo = SessionPhoto.objects.get()
    url = reverse("session_photo", args=[photo.pk])
    allowed = [consenting.patient.user, consenting.practitioner.user]
    for user in allowed:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert "no-store" in response["Cache-Control"]
        assert b"".join(response.streaming_content) == png_bytes()
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    assert client.get(url).status_code == 200
    for user in (PractitionerFactory().user, PatientFactory().user):  # someone else's photo
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(staff_user(roles.FRONT_DESK))  # a role that may never see a photo
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to sign in
    reads = LogEntry.objects.get_for_object(photo).filter(action=LogEntry.Action.ACCESS)
    assert reads.count() == 3
    assert all(entry.additional_data["patient_id"] == consenting.patient_id for entry in reads)


def test_unknown_photo_is_404(client, appointment):
    client.force_login(appointment.practitioner.user)
    assert client.get(reverse("session_photo", args=[424242])).status_code == 404


def test_private_files_are_not_reachable_under_media_url(client, consenting):
    post_record(client, consenting, png_upload())
    photo = SessionPhoto.objects.get()
    client.force_login(consenting.patient.user)
    assert client.get(f"/{settings.MEDIA_URL}{photo.image.name}").status_code == 404
