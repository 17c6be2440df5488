"""The signed-in user of a request in one query: the user with their patient or practitioner row and the names
of their roles (PostgreSQL), instead of one query each before the view runs.

Read afresh for every request, as Django's ModelBackend reads the user: a role given or taken away, a
deactivated account, or a password change (the session's hash, checked by Django against this row) counts
from the next request. Nothing is kept between requests (tests/test_sessions.py).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import OuterRef

from . import roles


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("patient", "practitioner")
        postgres = connection.vendor == "postgresql"
        if postgres:  # SQLite (`make run`) asks for the roles when first needed, as before
            from django.contrib.postgres.expressions import ArraySubquery

            users = users.annotate(role_names=ArraySubquery(Group.objects.filter(user=OuterRef("pk")).values("name")))
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        if postgres:
            roles.remember(user, user.role_names)
        return user
