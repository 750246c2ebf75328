#!/usr/bin/env bash
# Entry point of the Hub's image: migrate if asked to (HV_MIGRATE_ON_START=1), then run the command.
set -euo pipefail

if [[ "${HV_MIGRATE_ON_START:-0}" == "1" ]]; then
  # Several web containers may start at once (scale-out): a PostgreSQL advisory lock makes them
  # migrate one after the other. The lock goes with this process's session when it ends.
  python - <<'PY'
import django
from django.core.management import call_command
from django.db import connection

MIGRATION_LOCK = 4_815_162_342

django.setup()
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
call_command("migrate", interactive=False)
PY
fi

exec "$@"
