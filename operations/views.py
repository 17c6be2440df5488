"""A patient's rights over their data: download all of it (JSON, or a printable page) and ask for erasure.

Only the signed-in patient's own data: there is no id in these URLs, so nobody can ask for another's.
Staff accounts have no patient profile and get 403 (`clinic.access.patient_required`). Every download is
written to the audit trail.
"""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render

from clinic import access, clock
from clinic.audit import record_access
from clinic.forms import ErasureRequestForm

from . import erasure
from .patient_data import app_sections, patient_data


@access.patient_required
def my_data(request):
    patient = request.patient
    data = patient_data(patient)
    record_access(request.user, patient, what="own data export (printable page)")
    response = render(request, "clinic/my_data/page.html", {"data": data, "app_sections": app_sections(data)})
    response["Cache-Control"] = "private, no-store"
    return response


@access.patient_required
def my_data_json(request):
    patient = request.patient
    data = patient_data(patient)
    record_access(request.user, patient, what="own data export (JSON)")
    return data_file_response(data, f"my-clinic-data-{clock.today():%Y-%m-%d}.json")


def data_file_response(data: dict, filename: str) -> HttpResponse:
    """`patient_data` as a JSON download (also the admin's export for a request made by post or phone)."""
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@access.patient_required
def erasure_request(request):
    """Ask for erasure: a request for a clinic admin, never an erasure by itself."""
    patient = request.patient
    latest = erasure.latest_request(patient)
    may_ask = latest is None or not latest.is_open
    form = ErasureRequestForm(request.POST or None, user=request.user) if may_ask else None
    status = 200
    if request.method == "POST" and form is not None:
        if form.is_valid():
            try:
                erasure.request_erasure(patient)
            except erasure.ErasureError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    "Your request is sent. A clinic admin will deal with it within one month; until then "
                    "nothing is erased and your account works as before.",
                )
            return redirect("erasure_request")
        status = 400
    context = {"latest": latest, "form": form, "retention_years": erasure.retention_years()}
    return render(request, "clinic/erasure_request.html", context, status=status)
