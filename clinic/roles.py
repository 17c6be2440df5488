"""Staff roles, as Django groups. The one place that says which role may do what in the admin, and how a
view asks whether a user holds a role. What a role may see or do with an object, and the view guards, are
`clinic.access`.

The groups are created by a migration; their permissions are (re)applied after every migrate, because
permissions of apps migrated later do not exist yet when this app's migration runs.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

PRACTITIONER = "Practitioner"
FRONT_DESK = "Front desk"
CLINIC_ADMIN = "Clinic admin"
ROLE_NAMES = (PRACTITIONER, FRONT_DESK, CLINIC_ADMIN)

# app_label -> model -> actions, per role. Clinic admin gets every permission of the project's apps.
ROLE_PERMISSIONS = {
    PRACTITIONER: {
        "clinic": {
            "practitioner": ["view", "change"],
            "workinghours": ["view", "add", "change", "delete"],
            "timeoff": ["view", "add", "change", "delete"],
            "treatment": ["view"],
            "room": ["view"],
            "site": ["view"],
            "sitetravel": ["view"],
            "openinghours": ["view"],
            "patient": ["view"],
        },
        # Health forms are read through the review pages, which check the patient relation and log each read;
        # the admin's intake lists do neither, so they are for clinic admins only.
        "consultations": {"screeningrule": ["view"]},
        "bookings": {"aftercarecheckin": ["view", "change"]},  # own patients' only (bookings/admin.py)
    },
    FRONT_DESK: {
        "clinic": {
            "patient": ["view", "add", "change"],
            "practitioner": ["view"],
            "treatment": ["view"],
            "room": ["view"],
            "site": ["view"],
            "sitetravel": ["view"],
            "openinghours": ["view"],
            # The desk runs the rota (issue #15): hours, time off and closures, in the admin as on /desk/rota/.
            "workinghours": ["view", "add", "change", "delete"],
            "timeoff": ["view", "add", "change", "delete"],
            "closure": ["view", "add", "change", "delete"],
        },
        "bookings": {"reminder": ["view", "change"], "aftercarecheckin": ["view", "change"]},
    },
}
PROJECT_APPS = ("clinic", "consultations", "bookings", "practice", "operations", "payments")
# Beyond the project's own models, a clinic admin reads the audit trail, unlocks locked-out accounts and
# removes a lost phone's two-factor device.
CLINIC_ADMIN_EXTRA = {
    "auditlog": ["view_logentry"],
    "axes": ["view_accessattempt", "delete_accessattempt", "view_accessfailurelog"],
    "otp_totp": ["view_totpdevice", "delete_totpdevice"],
}


def role_permissions(role: str):
    if role == CLINIC_ADMIN:
        extra = Q()
        for app_label, codenames in CLINIC_ADMIN_EXTRA.items():
            extra |= Q(content_type__app_label=app_label, codename__in=codenames)
        return Permission.objects.filter(Q(content_type__app_label__in=PROJECT_APPS) | extra)
    codenames = [
        f"{action}_{model}"
        for app_models in ROLE_PERMISSIONS.get(role, {}).values()
        for model, actions in app_models.items()
        for action in actions
    ]
    apps = list(ROLE_PERMISSIONS.get(role, {}))
    return Permission.objects.filter(content_type__app_label__in=apps, codename__in=codenames)


def sync_role_permissions() -> None:
    for role in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*role_permissions(role))


def sync_role_permissions_on_migrate(sender, **kwargs):
    if sender.name in PROJECT_APPS or sender.label in CLINIC_ADMIN_EXTRA:
        sync_role_permissions()


def has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_role_names", None)
    if cache is None:
        cache = remember(user, user.groups.values_list("name", flat=True))
    return role in cache or CLINIC_ADMIN in cache


def remember(user, names) -> set:
    """Keep the user's role names on this user object (one request's: `clinic.backends` loads the signed-in
    user with them; a user object read elsewhere asks once)."""
    user._role_names = set(names)
    return user._role_names


def is_practitioner(user) -> bool:
    return has_role(user, PRACTITIONER) and hasattr(user, "practitioner")


def is_front_desk(user) -> bool:
    return has_role(user, FRONT_DESK)


def is_clinic_admin(user) -> bool:
    return has_role(user, CLINIC_ADMIN)


def is_staff_member(user) -> bool:
    return any(has_role(user, role) for role in ROLE_NAMES)
