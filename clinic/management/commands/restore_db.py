"""Restore a backup made by `backup_db` into the configured database (replacing what is there)."""

import shutil
import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from clinic.backups import pg_command_env


class Command(BaseCommand):
    help = "Restore FILE (from backup_db) into the configured database, replacing its contents."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, file: Path, yes: bool, **options):
        if not file.exists():
            raise CommandError(f"No such backup file: {file}")
        name = connection.settings_dict["NAME"]
        if not yes and input(f"Replace everything in database {name} with {file}? [y/N] ").lower() != "y":
            raise CommandError("Cancelled: nothing was changed.")
        if connection.vendor == "postgresql":
            connection.close()
            cmd, env = pg_command_env(
                "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", str(file)
            )
            result = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if result.returncode:
                raise CommandError(f"pg_restore failed: {result.stderr.strip()}")
        elif connection.vendor == "sqlite":
            connection.close()
            shutil.copyfile(file, name)
        else:
            raise CommandError(f"No restore method for {connection.vendor}.")
        self.stdout.write(self.style.SUCCESS(f"Restored {file} into {name}."))
