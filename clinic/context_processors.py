from django.conf import settings

from . import access, roles


def clinic(request):
    """The clinic's name and contact details, and the signed-in user's roles, for the base template."""
    user = request.user
    return {
        "CLINIC": settings.CLINIC,
        "user_is_practitioner": roles.is_practitioner(user),
        "user_is_front_desk": roles.is_front_desk(user),
        "user_is_patient": access.patient_of(user) is not None,
        "user_sees_reports": access.may_see_reports(user),
    }
