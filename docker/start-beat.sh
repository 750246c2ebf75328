#!/usr/bin/env bash
# Celery beat: run exactly one. With remote control on it answers `celery inspect ping` as
# celerybeat@<container hostname> while its scheduler ticks, which is its health check.
set -euo pipefail
exec celery --app hypervisual beat --loglevel INFO --schedule /tmp/celerybeat-schedule --enable-remote-control
