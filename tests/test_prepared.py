"""Statements prepared once a connection (`clinic.prepared`): a failure between preparing and executing, in
their one round trip, leaves the next attempt a name of its own (PostgreSQL kept the first)."""

import pytest
from django.db import DatabaseError, connection, transaction

from clinic.prepared import execute_prepared

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_a_statement_that_failed_on_its_first_execution_is_prepared_again_under_another_name():
    def divide(by):
        with connection.cursor() as cursor:
            execute_prepared(cursor, "test_divide", "SELECT 10 / $1", ("int",), [by])
            return cursor.fetchone()[0]

    with pytest.raises(DatabaseError), transaction.atomic():
        divide(0)  # prepared, then the execution fails
    assert divide(5) == 2  # prepared again, under a new name
    assert divide(2) == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'test_divide%%'")
        assert cursor.fetchone()[0] == 2
