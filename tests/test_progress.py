"""Progress: the grade per area across a course, as a server-rendered, accessible SVG chart."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from practice.progress_chart import GradePoint, build_charts
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    record_session_for,
)

pytestmark = pytest.mark.django_db

DAY = datetime.date(2027, 1, 4)


def test_chart_points_for_known_data():
    points = [
        GradePoint(DAY, "thighs", "hexsel", 12),
        GradePoint(DAY + datetime.timedelta(days=28), "thighs", "hexsel", 10),
        GradePoint(DAY + datetime.timedelta(days=56), "thighs", "hexsel", 8),
        GradePoint(DAY, "buttocks", "nurnberger_muller", 2),
        GradePoint(DAY + datetime.timedelta(days=56), "buttocks", "nurnberger_muller", 1),
    ]
    hexsel, nurnberger = build_charts(points)
    # Plot: x from 48 to 616 over the days; y from 16 (best grade) to 252 (worst grade) - lower is better.
    assert [(x, y) for x, y, _ in hexsel.lines["thighs"]] == [(48.0, 66.6), (332.0, 100.3), (616.0, 134.0)]
    assert '<polyline points="48.0,66.6 332.0,100.3 616.0,134.0"/>' in hexsel.svg
    assert [(x, y) for x, y, _ in nurnberger.lines["buttocks"]] == [(48.0, 94.7), (616.0, 173.3)]


def test_chart_is_accessible_and_has_a_table_alternative():
    points = [
        GradePoint(DAY, "thighs", "hexsel", 12),
        GradePoint(DAY + datetime.timedelta(days=30), "thighs", "hexsel", 9),
    ]
    (chart,) = build_charts(points)
    assert re.search(
        r'<svg [^>]*role="img" aria-labelledby="grade-chart-hexsel-title grade-chart-hexsel-desc"', chart.svg
    )
    assert '<title id="grade-chart-hexsel-title">Cellulite grade per area: Hexsel' in chart.svg
    assert "Thighs: 12 on 4 January 2027 to 9 on 3 February 2027 (2 sessions)" in chart.svg
    assert "<title>Thighs, 3 February 2027: 9</title>" in chart.svg
    assert chart.table == (["Thighs"], [(DAY, ["12"]), (DAY + datetime.timedelta(days=30), ["9"])])


def test_a_single_session_sits_in_the_middle_and_no_data_means_no_chart():
    (chart,) = build_charts([GradePoint(DAY, "abdomen", "hexsel", 15)])
    assert chart.lines["abdomen"][0][:2] == (332.0, 16.0)
    assert build_charts([]) == []


def graded_course(patient, practitioner, grades):
    treatment = TreatmentFactory()
    start = timezone.now() - datetime.timedelta(days=30 * len(grades))
    for index, grade in enumerate(grades):
        appointment = AppointmentFactory(
            patient=patient,
            practitioner=practitioner,
            treatment=treatment,
            start_at=start + datetime.timedelta(days=30 * index),
            status=Appointment.Status.COMPLETED,
        )
        record_session_for(
            appointment,
            areas=[("thighs", "hexsel", grade)],
            reactions="Pinpoint bleeding",
            notes="NOTE-FOR-CLINICIANS-ONLY",
        )


def test_patient_sees_grades_and_dates_but_not_notes(client):
    patient, practitioner = PatientFactory(), PractitionerFactory()
    graded_course(patient, practitioner, [12, 10, 9])
    client.force_login(patient.user)
    page = client.get(reverse("my_progress")).content.decode()
    assert "<svg" in page and "<polyline" in page and "Thighs" in page
    assert "NOTE-FOR-CLINICIANS-ONLY" not in page and "Pinpoint bleeding" not in page and "Dermapen" not in page
    assert page.count("<circle") == 3


def test_another_patients_grades_never_show(client):
    patient, practitioner = PatientFactory(), PractitionerFactory()
    graded_course(patient, practitioner, [12, 10])
    client.force_login(PatientFactory().user)
    page = client.get(reverse("my_progress")).content.decode()
    assert "<svg" not in page and "No grades recorded yet" in page


def test_practitioner_sees_the_chart_on_the_patient_page(client):
    patient, practitioner = PatientFactory(), PractitionerFactory()
    graded_course(patient, practitioner, [14, 11])
    client.force_login(practitioner.user)
    page = client.get(reverse("practice_patient", args=[patient.pk])).content.decode()
    assert "grade-chart-hexsel-title" in page and "NOTE-FOR-CLINICIANS-ONLY" in page


def test_staff_without_a_patient_account_have_no_progress_page(client):
    client.force_login(PractitionerFactory().user)
    assert client.get(reverse("my_progress")).status_code == 403
