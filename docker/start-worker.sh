#!/usr/bin/env bash
# Celery worker; its node name is celery@<container hostname>, which its health check pings.
set -euo pipefail
exec celery --app hypervisual worker --loglevel INFO
