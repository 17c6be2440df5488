from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from . import access, roles, selectors, services
from .forms import PatientProfileForm, PractitionerProfileForm, SignupForm, WorkingHoursFormSet
from .models import Practitioner
from .redirects import safe_next


def home(request):
    return render(
        request,
        "clinic/home.html",
        {
            "treatments": selectors.bookable_treatments(),
            "practitioners": selectors.active_practitioners()[:4],
        },
    )


def treatment_detail(request, slug):
    treatment = get_object_or_404(selectors.bookable_treatments(), slug=slug)
    practitioners = selectors.active_practitioners().filter(treatments=treatment)
    return render(request, "clinic/treatment_detail.html", {"treatment": treatment, "practitioners": practitioners})


def practitioner_list(request):
    return render(request, "clinic/practitioner_list.html", {"practitioners": selectors.active_practitioners()})


def practitioner_detail(request, slug):
    try:
        practitioner = selectors.practitioner_profile(slug)
    except Practitioner.DoesNotExist:
        raise Http404("No such practitioner.") from None
    return render(
        request,
        "clinic/practitioner_detail.html",
        {
            "practitioner": practitioner,
            "can_edit": access.may_edit_practitioner(request.user, practitioner),
        },
    )


@login_required
def practitioner_edit(request, slug):
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), slug=slug)
    if not access.may_edit_practitioner(request.user, practitioner):
        raise PermissionDenied("You can only edit your own profile.")
    form = PractitionerProfileForm(request.POST or None, request.FILES or None, instance=practitioner)
    hours = WorkingHoursFormSet(request.POST or None, instance=practitioner, prefix="hours")
    if request.method == "POST" and form.is_valid() and hours.is_valid():
        with transaction.atomic():
            form.save()
            hours.save()
        messages.success(request, "Your profile and working hours are saved.")
        return redirect(practitioner)
    if request.method == "POST":
        messages.error(request, "Nothing was saved: please correct the errors below.")
    return render(
        request, "clinic/practitioner_edit.html", {"practitioner": practitioner, "form": form, "hours": hours}
    )


@login_required
def start(request):
    """Where signing in leads (LOGIN_REDIRECT_URL) when no page was asked for: each role's working page.
    Clinic admins and the desk run the calendar, practitioners their day, patients their appointments."""
    user = request.user
    if roles.is_clinic_admin(user) or (roles.is_front_desk(user) and not roles.is_practitioner(user)):
        return redirect("desk:calendar")
    if roles.is_practitioner(user):
        return redirect("my_day")
    if access.patient_of(user) is not None:
        return redirect("my_appointments")
    return redirect("home")


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        patient = services.register_patient(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            phone=data["phone"],
            date_of_birth=data["date_of_birth"],
        )
        login(request, patient.user, backend="clinic.backends.UserBackend")
        messages.success(request, f"Welcome, {patient.user.first_name}. Your account is ready.")
        return redirect(safe_next(request, reverse("home")))
    return render(request, "registration/signup.html", {"form": form})


@login_required
def profile(request):
    patient = access.patient_of(request.user)
    if patient is None:
        if roles.is_practitioner(request.user):
            return redirect("practitioner_edit", request.user.practitioner.slug)
        raise PermissionDenied("Staff accounts have no patient profile.")
    form = PatientProfileForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        services.update_patient_profile(patient, **data)
        messages.success(request, "Your details are saved.")
        return redirect("profile")
    return render(request, "clinic/profile.html", {"form": form})
