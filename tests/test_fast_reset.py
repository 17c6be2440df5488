"""The reset after a transactional test (tests/fast_reset.py) leaves what Django's flush leaves: every table
holds the same rows, compared by content (foreign keys followed to the rows they name, since a flush gives
post_migrate's rows new ids), and no sequence is restarted. The one value that differs from one flush to the
next, the availability scopes' "clinic" row (the clock when its TRUNCATE triggers ran), is compared as what
it stands for: one row, above every value before the reset."""

import io

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.models import AutoField, BigAutoField, SmallAutoField

from bookings.models import AvailabilityScope
from clinic import roles
from tests import fast_reset

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _every_table_by_content() -> dict[str, list]:
    """Each table's rows, sorted, with generated ids left out and each foreign key replaced by the row it
    names (recursively): equal for two databases holding the same data under other ids."""
    rows_by_model = {
        model: {row.pk: row for row in model._base_manager.all()}
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed
    }
    seen = {}

    def content(model, pk):
        if (model, pk) not in seen:
            row = rows_by_model[model][pk]
            seen[(model, pk)] = tuple(
                value(field, getattr(row, field.attname))
                for field in model._meta.concrete_fields
                if not isinstance(field, AutoField | BigAutoField | SmallAutoField)
                and field is not AvailabilityScope._meta.get_field("value")  # the clock: see _scopes_after
            )
        return seen[(model, pk)]

    def value(field, raw):
        if not field.is_relation or raw is None:
            return (field.name, raw)
        target = field.related_model
        pk = raw if field.target_field.primary_key else target._base_manager.get(**{field.target_field.attname: raw}).pk
        return (field.name, content(target, pk))

    tables = {
        model._meta.db_table: sorted(map(repr, (content(model, pk) for pk in rows)))
        for model, rows in rows_by_model.items()
    }
    assert set(tables) == set(connection.introspection.django_table_names(only_existing=True, include_views=False))
    return tables


def _scopes_after(reset) -> list[str]:
    """Reset, and check the availability scopes as a flush leaves them: rows whose values are above every
    value before (so no answer cached before is read again)."""
    before = max(AvailabilityScope.objects.values_list("value", flat=True), default=0)
    reset()
    rows = list(AvailabilityScope.objects.values_list("scope", "value"))
    assert all(value > before for _, value in rows)
    return sorted(scope for scope, _ in rows)


def _sequences() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()")
        return dict(cursor.fetchall())


def _a_busy_clinic():
    """Rows in most tables: the demo clinic (treatments, sites, staff, patients, a week of appointments,
    reminders, payments)."""
    call_command("seed_demo", stdout=io.StringIO())


def _djangos_flush():
    """Django's flush as TransactionTestCase runs it (fast_reset.flush runs nothing else before it), which
    also leaves the test's own teardown the cheap way."""
    fast_reset.flush()


def _expect(way, expected):
    assert way == expected


def test_after_a_test_that_wrote_most_tables_the_reset_leaves_what_djangos_flush_leaves():
    fast_reset.flush()  # a known start: what the flush leaves, remembered
    _a_busy_clinic()
    sequences = _sequences()
    with connection.cursor() as cursor:
        written = fast_reset._tables_with_rows(cursor, connection)
    assert len(written) > 30

    assert _scopes_after(lambda: _expect(fast_reset.reset(), "kept")) == ["clinic"]
    after_reset = _every_table_by_content()
    assert _sequences() == sequences, "no sequence is restarted, as Django's flush restarts none"

    assert _scopes_after(_djangos_flush) == ["clinic"]
    assert _every_table_by_content() == after_reset
    assert any(after_reset.values()), "post_migrate's rows are there"


def test_a_test_that_changed_a_post_migrate_table_gets_djangos_flush():
    fast_reset.flush()
    _a_busy_clinic()
    # An admin takes a permission away from a role: post_migrate's role sync puts it back.
    group = Group.objects.get(name=roles.FRONT_DESK)
    group.permissions.remove(group.permissions.first())

    assert _scopes_after(lambda: _expect(fast_reset.reset(), "flushed")) == ["clinic"]
    after_reset = _every_table_by_content()
    assert _scopes_after(_djangos_flush) == ["clinic"]
    assert _every_table_by_content() == after_reset
    assert Group.objects.get(name=roles.FRONT_DESK).permissions.count() > 0
    assert Permission.objects.exists()
