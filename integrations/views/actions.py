"""Placeholder: being written."""


def action_run_status(request, **kwargs):
    raise NotImplementedError


def action_run_retry(request, **kwargs):
    raise NotImplementedError
