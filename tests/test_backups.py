"""A backup restores into a fresh database with the same data."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from tests.factories import PatientFactory, PractitionerFactory, TreatmentFactory

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def manage(*args, database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def admin_connection():
    db = connection.settings_dict
    conn = psycopg2.connect(
        dbname="postgres", host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None
    )
    conn.autocommit = True
    return conn


def test_backup_restores_into_a_fresh_database_with_the_same_data(tmp_path):
    PatientFactory(user__email="kept@example.com")
    PractitionerFactory(treatments=[TreatmentFactory(slug="kept-treatment")])
    db = connection.settings_dict
    source_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    dump = tmp_path / "clinic.dump"
    result = manage("backup_db", str(dump), database_url=source_url)
    assert result.returncode == 0, result.stderr
    assert "Backed up to" in result.stdout and dump.stat().st_size > 0

    fresh = f"restore_check_{uuid.uuid4().hex[:8]}"
    admin = admin_connection()
    admin.cursor().execute(f'CREATE DATABASE "{fresh}"')
    try:
        fresh_url = source_url.rsplit("/", 1)[0] + f"/{fresh}"
        result = manage("restore_db", str(dump), "--yes", database_url=fresh_url)
        assert result.returncode == 0, result.stderr
        with psycopg2.connect(dbname=fresh, host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"]) as restored:
            cur = restored.cursor()
            cur.execute("SELECT email FROM clinic_user ORDER BY email")
            emails = [row[0] for row in cur.fetchall()]
            cur.execute("SELECT slug FROM clinic_treatment")
            slugs = [row[0] for row in cur.fetchall()]
        restored.close()
        assert "kept@example.com" in emails
        assert slugs == ["kept-treatment"]
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        admin.close()


def test_restore_of_a_missing_file_changes_nothing():
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    result = manage("restore_db", "/nonexistent/backup.dump", "--yes", database_url=url)
    assert result.returncode != 0
    assert "No such backup file" in result.stderr
