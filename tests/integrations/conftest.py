"""Fixtures the provider tests share: backoff waits recorded, Celery tasks captured."""

from dataclasses import dataclass

import pytest
from celery.app.task import Task

from integrations.clients import base


@pytest.fixture
def waits(monkeypatch):
    """The backoff waits the client asked for, instead of sleeping them."""
    slept: list[float] = []
    monkeypatch.setattr(base.time, "sleep", slept.append)
    return slept


@dataclass
class Enqueued:
    task: Task
    args: tuple
    kwargs: dict
    options: dict


@pytest.fixture
def enqueued(monkeypatch):
    """Tasks sent to Celery, kept here instead of reaching the broker; run them with `run_all`."""
    sent: list[Enqueued] = []

    def record(task, args=None, kwargs=None, **options):
        sent.append(Enqueued(task, tuple(args or ()), dict(kwargs or {}), options))

    monkeypatch.setattr(Task, "apply_async", record)
    return sent


def take_all(enqueued: list[Enqueued], task_name: str) -> list[Enqueued]:
    """Remove the enqueued tasks of one name and return them, in order, without running them."""
    chosen = [sent for sent in enqueued if sent.task.name == task_name]
    for sent in chosen:
        enqueued.remove(sent)
    return chosen


def run_all(enqueued: list[Enqueued], task_name: str) -> list[Enqueued]:
    """Run (and forget) the enqueued tasks of one name, in order, in this process."""
    chosen = take_all(enqueued, task_name)
    for sent in chosen:
        sent.task(*sent.args, **sent.kwargs)
    return chosen
