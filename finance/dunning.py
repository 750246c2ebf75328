"""The arithmetic of dunning, free of the database: which level is due when, fees, and late interest.

Levels go in order: a formal notice never reaches a client who had no reminder before it. Level n is due
on the due date plus its offset, and never sooner after the previous reminder than the gap between the two
offsets; a run that missed days therefore sends the next level once, and the one after keeps its spacing.

Late interest (art. 104 CO) runs from the day after the due date on what is still owed, day by day:
each payment or credit note lowers the principal from its date. Actual days over a 365-day year, rounded
half-up to the centime once, at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENTIME = Decimal("0.01")
DAYS_PER_YEAR = Decimal(365)


@dataclass(frozen=True)
class LevelRule:
    level: int
    name: str
    days_after_due: int
    fee: Decimal


@dataclass(frozen=True)
class Reduction:
    """Money that lowered what the client owes, from a date: a payment received or a credit note issued."""

    on: date
    amount: Decimal


def next_level(levels: Sequence[LevelRule], *, reached: int) -> LevelRule | None:
    """The level after `reached` (0 = none sent yet), or None once the last level was sent."""
    return next((rule for rule in sorted(levels, key=lambda r: r.level) if rule.level > reached), None)


def level_due_on(levels: Sequence[LevelRule], rule: LevelRule, *, due_date: date, last_sent_on: date | None) -> date:
    """The first day `rule` may be sent: its offset after the due date, and its gap after the previous reminder."""
    due_on = due_date + timedelta(days=rule.days_after_due)
    previous = max((r for r in levels if r.level < rule.level), key=lambda r: r.level, default=None)
    if previous is not None and last_sent_on is not None:
        due_on = max(due_on, last_sent_on + timedelta(days=rule.days_after_due - previous.days_after_due))
    return due_on


def fees_through(levels: Sequence[LevelRule], level: int, *, fees_allowed: bool) -> Decimal:
    """The fees a client owes once reminders up to `level` were sent (none unless the terms provide for them)."""
    if not fees_allowed:
        return Decimal("0.00")
    return sum((rule.fee for rule in levels if rule.level <= level), Decimal("0.00"))


def late_interest(
    *, principal: Decimal, due_date: date, on: date, annual_rate_percent: Decimal, reductions: Iterable[Reduction]
) -> Decimal:
    """Interest from the day after `due_date` to `on` inclusive, on `principal` less the reductions as they came."""
    if on <= due_date or annual_rate_percent <= 0:
        return Decimal("0.00")
    owed = principal
    # Money received on or before the due date was never late: it lowers the principal from the start.
    owed -= sum((r.amount for r in reductions if r.on <= due_date), Decimal("0"))
    later = sorted((r for r in reductions if due_date < r.on <= on), key=lambda r: r.on)
    total = Decimal("0")
    period_start = due_date
    for reduction in later:
        # Owed through the day before the money arrived: the day it arrives no longer counts.
        total += max(owed, Decimal("0")) * (reduction.on - timedelta(days=1) - period_start).days
        period_start = reduction.on - timedelta(days=1)
        owed -= reduction.amount
    total += max(owed, Decimal("0")) * (on - period_start).days
    interest = total * annual_rate_percent / Decimal(100) / DAYS_PER_YEAR
    return interest.quantize(CENTIME, rounding=ROUND_HALF_UP)
