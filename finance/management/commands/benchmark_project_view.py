"""Time the CEO project view (W4) for the whole group on the data in the database, e.g. the demo seed.

Prints server time per request (median and slowest) and the SQL query count, so the 300 ms target
is measured on a real dataset rather than asserted in a timed unit test.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.models import Project


class Command(BaseCommand):
    help = "Time the project view (W4) for the group and print server time and SQL query count."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", default="ceo", help="Username to render the page as (default: ceo).")
        parser.add_argument("--runs", type=int, default=20, help="Requests to time (default: 20).")

    def handle(self, *args, user: str, runs: int, **options) -> None:
        viewer = get_user_model().objects.filter(username=user).first()
        if viewer is None:
            raise CommandError(f"No user {user!r}: seed the demo group first (manage.py seed_demo).")
        client = Client(SERVER_NAME="127.0.0.1", HTTP_ACCEPT_LANGUAGE="fr")
        client.force_login(viewer)
        url = reverse("finance:project-list")
        client.get(url, secure=True)  # warm the session and the template cache
        timings = []
        for _ in range(max(runs, 1)):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, secure=True)
                timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
        shown = response.content.decode().count("<tr data-project=")
        self.stdout.write(
            f"Project view ({url}) as {user}: {shown} open projects shown, "
            f"{Project.objects.count()} in the database, {len(queries)} SQL queries per request"
        )
        self.stdout.write(
            f"Server time over {len(timings)} requests: median {statistics.median(timings):.1f} ms, "
            f"slowest {max(timings):.1f} ms"
        )
