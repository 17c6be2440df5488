"""A patient's rights over their data: download all of it (JSON, or a printable page) and ask for erasure.

Only the signed-in patient's own data: there is no id in these URLs, so nobody can ask for another's.
Staff accounts have no patient profile and get 404. Every download is written to the audit trail.
"""

import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .audit import record_access
from .patient_data import patient_data


def own_patient_or_404(user):
    patient = getattr(user, "patient", None)
    if patient is None:
        raise Http404("Only patients have data to download here.")
    return patient


@login_required
def my_data(request):
    patient = own_patient_or_404(request.user)
    data = patient_data(patient)
    record_access(request.user, patient, what="own data export (printable page)")
    response = render(request, "clinic/my_data/page.html", {"data": data})
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def my_data_json(request):
    patient = own_patient_or_404(request.user)
    data = patient_data(patient)
    record_access(request.user, patient, what="own data export (JSON)")
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="my-clinic-data-{timezone.localdate():%Y-%m-%d}.json"'
    response["Cache-Control"] = "private, no-store"
    return response
