"""Writes for the clinic app: sign-up and practitioners' own profile pages."""

from django.db import transaction

from .models import Patient, User


@transaction.atomic
def register_patient(*, email, password, first_name, last_name, phone, date_of_birth, sms_opt_in=False) -> Patient:
    user = User.objects.create_user(email=email, password=password, first_name=first_name, last_name=last_name)
    return Patient.objects.create(user=user, phone=phone, date_of_birth=date_of_birth, sms_opt_in=sms_opt_in)


@transaction.atomic
def update_patient_profile(patient: Patient, *, first_name, last_name, **fields) -> Patient:
    patient.user.first_name, patient.user.last_name = first_name, last_name
    patient.user.save(update_fields=["first_name", "last_name"])
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.save()
    return patient
