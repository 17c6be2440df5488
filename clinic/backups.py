import os

from django.db import connection


def pg_command_env(program: str, *args: str, database: dict | None = None):
    """The command line and environment for a PostgreSQL client tool aimed at the configured database.

    The password travels in PGPASSWORD, never on the command line where `ps` would show it.
    """
    db = database or connection.settings_dict
    cmd = [program, f"--dbname={db['NAME']}"]
    if db.get("HOST"):
        cmd.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        cmd.append(f"--port={db['PORT']}")
    if db.get("USER"):
        cmd.append(f"--username={db['USER']}")
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return [*cmd, *args], env
