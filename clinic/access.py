"""Who may see or do what: every such rule of the clinic, and the guards views put in front of them.

One consistent answer everywhere (pages, the API, the admin):
- a visitor who is not signed in is sent to sign in (the guards wrap `login_required`);
- a role that may never come to a page gets 403: staff on a patient's own pages, patients on staff pages,
  the front desk on clinical pages (`patient_required`, `clinician_required`, `desk_required`);
- the right role asking for someone else's object gets 404, as if it did not exist: patient B asking for
  patient A's appointment, a practitioner for a patient never booked with them (`found_only_if`).

Here, in `clinic` (the lowest app), so every app asks the same functions. Rules about appointments, intakes
and session records read those objects through their attributes and through the relations the higher apps
declare (`practitioner.appointments`, `photo.record.patient`), never by importing the higher app (apps depend
one way: docs/architecture.md). Roles themselves (groups, `has_role`) are `clinic.roles`.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import roles
from .models import Patient, Practitioner

# --- who someone is ------------------------------------------------------------------------------------------


def patient_of(user) -> Patient | None:
    """The signed-in user's own patient record; None for staff accounts and anonymous visitors."""
    if not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "patient", None)


def is_desk(user) -> bool:
    """The front desk, and clinic admins (who hold every role): act for any patient, outside the cancellation
    window too."""
    return roles.is_front_desk(user)


def is_clinician(user) -> bool:
    """Practitioners and clinic admins: the clinical pages (reviews, the workspace)."""
    return roles.is_practitioner(user) or roles.is_clinic_admin(user)


def sees_only_own(user) -> bool:
    """A practitioner without a desk or admin role: in the admin too, only their own profile, hours, time off,
    patients and check-ins."""
    return roles.is_practitioner(user) and not roles.is_front_desk(user)


def patients_of(practitioner):
    """The patients a practitioner is related to: those with a non-cancelled appointment with them, past or
    future. The relation behind every 'their own patients' check, pages and admin alike. Read through
    `practitioner.appointments` (bookings' appointments, with their queryset's `not_cancelled`)."""
    appointments = practitioner.appointments.not_cancelled()
    return Patient.objects.filter(pk__in=appointments.values("patient_id"))


def practitioners_of(patient):
    """The practitioners a patient is related to: the same relation as `patients_of`, seen from the patient."""
    appointments = patient.appointments.not_cancelled()
    return Practitioner.objects.filter(pk__in=appointments.values("practitioner_id"))


# --- what someone may do with an object ----------------------------------------------------------------------


def may_act_for(user, patient) -> bool:
    """Book, move or cancel appointments and join the waitlist for this patient: the patient themself, the desk."""
    return is_desk(user) or (user is not None and getattr(patient, "user_id", None) == getattr(user, "pk", None))


def may_override_eligibility(user) -> bool:
    """Book a session without a clearance in force (with a recorded reason)."""
    return roles.is_clinic_admin(user)


def may_change_appointment_status(user) -> bool:
    """Check in, complete, mark a no-show."""
    return is_desk(user) or roles.is_practitioner(user)


def may_undo_status_change(user) -> bool:
    """Undo a check-in or a mistaken completion (with a reason): the front desk and clinic admins."""
    return is_desk(user)


def may_edit_practitioner(user, practitioner) -> bool:
    """A practitioner's profile, hours and calendar link: their own, or any for a clinic admin."""
    return roles.is_clinic_admin(user) or (user.is_authenticated and practitioner.user_id == user.pk)


def may_see_appointment(user, appointment) -> bool:
    """One appointment (its calendar file): its patient, the desk and admins, and the practitioner it is with."""
    patient = patient_of(user)
    if patient is not None and patient.pk == appointment.patient_id:
        return True
    if is_desk(user):
        return True
    return roles.is_practitioner(user) and user.practitioner.pk == appointment.practitioner_id


def may_see_intake(user, intake) -> bool:
    """Clinical answers of a health form: a clinic admin; a practitioner when the form waits for review or the
    patient is booked with them. Never the front desk (they see `screening_status`, a label)."""
    if roles.is_clinic_admin(user):
        return True
    if not roles.is_practitioner(user):
        return False
    return intake.awaiting_review or patients_of(user.practitioner).filter(pk=intake.patient_id).exists()


def may_decide_review(user) -> bool:
    """Record a review decision: practitioners only (a clinic admin reads, a clinician decides)."""
    return roles.is_practitioner(user)


def may_see_patient_records(user, patient) -> bool:
    """Session records, progress and course plans of a patient, for staff: clinic admins, and practitioners
    related to the patient (`patients_of`). The front desk only learns that a session was recorded."""
    if roles.is_clinic_admin(user):
        return True
    if not roles.is_practitioner(user):
        return False
    return patients_of(user.practitioner).filter(pk=patient.pk).exists()


def may_record_session(user, appointment) -> bool:
    """Write the session record of an appointment: its practitioner, or a clinic admin."""
    return roles.is_clinic_admin(user) or appointment.practitioner.user_id == getattr(user, "pk", None)


def may_see_photo(user, photo) -> bool:
    """A progress photo: the patient themself, and staff who may see the patient's records."""
    patient = photo.record.patient
    if getattr(user, "is_authenticated", False) and patient.user_id == user.pk:
        return True
    return may_see_patient_records(user, patient)


def may_see_any_photo(user) -> bool:
    """Roles that may ever see a progress photo (patients their own; clinicians their patients')."""
    return patient_of(user) is not None or is_clinician(user)


def may_see_check_in_details(user) -> bool:
    """A patient's own words about their skin after a session (aftercare check-in): clinicians, not the desk."""
    return is_clinician(user)


def may_link_accounts(user) -> bool:
    """Say which sign-in account a practitioner's profile belongs to (admin): clinic admins only."""
    return roles.is_clinic_admin(user)


def may_sign_in_by_link(user) -> bool:
    """A signed link in a message may sign its patient in: patients only, never a staff account (a link in a
    forwarded email must not open a clinician's or an admin's session), and never a closed account."""
    return user.is_active and not user.is_staff and not user.is_superuser and not user.groups.exists()


def may_handle_patient_data_requests(user) -> bool:
    """Export a patient's whole record for them, complete or refuse their erasure: clinic admins only."""
    return roles.is_clinic_admin(user)


def may_see_reports(user) -> bool:
    """The owner's reports (utilisation, attendance, revenue, courses, screening, messages): clinic admins.
    Never the front desk or practitioners (revenue, every practitioner's figures), never patients."""
    return roles.is_clinic_admin(user)


# --- sites: whose calendars the desk opens on (issue 17) ---------------------------------------------------


def may_see_site_calendar(user, site) -> bool:
    """Clinic policy: the front desk of any site may look at every site's calendar (a patient of Manchester
    phones London; cover between sites), and clinic admins see everything. Only the default view is the
    desk user's own sites (`desk_default_sites`)."""
    return is_desk(user)


def desk_default_sites(user, sites) -> list:
    """The sites a desk user's calendars open on, out of `sites` (the active ones, each with `mine`, whether
    the user works there: `clinic.selectors.sites_for_desk`): the sites they work at. Everyone else (clinic
    admins, a desk user not yet given a site, practitioners, whose day spans sites) opens on every site:
    an empty list, "all sites"."""
    if roles.is_clinic_admin(user) or not roles.is_front_desk(user):
        return []
    return [site for site in sites if site.mine]


# --- the answers and the guards ------------------------------------------------------------------------------


def found_only_if(allowed: bool, what: str = "Not found.") -> None:
    """Another person's object: 404, exactly as for one that does not exist, so nothing is learnt from it."""
    if not allowed:
        raise Http404(what)


def _role_guard(allowed, message: str):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not allowed(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def patient_required(view):
    """A patient's own pages (booking, health form, progress, their data): 403 for staff accounts, which have
    no patient record. Sets `request.patient`."""

    @_role_guard(lambda user: patient_of(user) is not None, "These pages are for patients' own accounts.")
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.patient = patient_of(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def clinician_required(view):
    """Practitioners and clinic admins (reviews, the workspace): 403 for the front desk and patients."""
    return _role_guard(is_clinician, "These pages are for practitioners.")(view)


def desk_required(view):
    """The front desk and clinic admins (calendars, the desk's waitlist): 403 for practitioners and patients."""
    return _role_guard(is_desk, "These pages are for the front desk and clinic admins.")(view)


def reports_required(view):
    """The owner's reports: clinic admins; 403 for every other role."""
    return _role_guard(may_see_reports, "Reports are for the clinic's owner and admins.")(view)
