#!/usr/bin/env bash
# Web: gunicorn on port 8000 of the container; WEB_CONCURRENCY worker processes (default 3).
set -euo pipefail
exec gunicorn hypervisual.wsgi --bind 0.0.0.0:8000 --workers "${WEB_CONCURRENCY:-3}" --access-logfile -
