"""Dump the database to a file: `manage.py backup_db var/backups/clinic.dump`.

PostgreSQL: pg_dump's custom format (compressed; restore with `manage.py restore_db FILE`, which runs
pg_restore). SQLite: a consistent copy made with SQLite's online backup API.
"""

import sqlite3
import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from clinic.backups import pg_command_env


class Command(BaseCommand):
    help = "Back up the database to FILE (pg_dump custom format on PostgreSQL, a file copy on SQLite)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        file.parent.mkdir(parents=True, exist_ok=True)
        if connection.vendor == "postgresql":
            cmd, env = pg_command_env("pg_dump", "--format=custom", "--no-owner", f"--file={file}")
            result = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if result.returncode:
                raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        elif connection.vendor == "sqlite":
            connection.ensure_connection()
            with sqlite3.connect(file) as target:
                connection.connection.backup(target)
        else:
            raise CommandError(f"No backup method for {connection.vendor}.")
        self.stdout.write(self.style.SUCCESS(f"Backed up to {file} ({file.stat().st_size:,} bytes)."))
