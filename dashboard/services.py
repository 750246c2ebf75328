"""Writes of the dashboard: a user's snoozes, and the daily record of figures the documents do not keep."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dashboard import selectors
from dashboard.models import FigureSnapshot, UrgentSnooze
from finance.models import Company

# How long an urgent item may be hidden; "tomorrow" ends at 07:00 the next morning, when the day starts.
SNOOZE_DURATIONS = ("1h", "tomorrow", "7d")
URGENT_KEY = re.compile(r"^[a-z_]+:[A-Za-z0-9]{1,20}$")
MORNING = time(7, 0)


def snooze_until(duration: str, *, now: datetime) -> datetime:
    if duration == "1h":
        return now + timedelta(hours=1)
    if duration == "7d":
        return now + timedelta(days=7)
    if duration == "tomorrow":
        tomorrow = timezone.localdate(now) + timedelta(days=1)
        return timezone.make_aware(datetime.combine(tomorrow, MORNING))
    raise ValidationError(_("Choose how long to hide the item: one hour, until tomorrow or one week."))


def urgent_snooze(*, user: AbstractBaseUser, key: str, duration: str, now: datetime | None = None) -> UrgentSnooze:
    """Hide one urgent item from this user until the chosen time; snoozing again moves the time."""
    if not URGENT_KEY.match(key):
        raise ValidationError(_("This item cannot be hidden."))
    until = snooze_until(duration, now=now or timezone.now())
    snooze, _created = UrgentSnooze.objects.update_or_create(user=user, key=key, defaults={"until": until})
    return snooze


def figure_snapshots_record(*, day: date) -> int:
    """Write down today's pipeline and open projects per company (again each hour: the last one stands)."""
    company_ids = list(Company.objects.values_list("pk", flat=True))
    rows = [
        FigureSnapshot(company_id=row["company_id"], day=day, metric=FigureSnapshot.Metric.PIPELINE,
                       currency=row["currency"], value=row["total"])
        for row in selectors.pipeline_now(company_ids, day)
    ]  # fmt: skip
    projects = {row["company_id"]: row for row in selectors.projects_now(company_ids, day)}
    for company_id in company_ids:
        counts = projects.get(company_id, {"active": 0, "late": 0})
        rows.append(FigureSnapshot(company_id=company_id, day=day, metric=FigureSnapshot.Metric.PROJECTS_ACTIVE,
                                   value=counts["active"]))  # fmt: skip
        rows.append(FigureSnapshot(company_id=company_id, day=day, metric=FigureSnapshot.Metric.PROJECTS_LATE,
                                   value=counts["late"]))  # fmt: skip
    with transaction.atomic():
        # A pipeline that emptied since the last record of the day must not keep its earlier value.
        FigureSnapshot.objects.filter(day=day, metric=FigureSnapshot.Metric.PIPELINE).delete()
        FigureSnapshot.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["company", "day", "metric", "currency"], update_fields=["value"]
        )
    return len(rows)
