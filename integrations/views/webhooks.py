"""Placeholder: being written."""


def delivery_list(request, **kwargs):
    raise NotImplementedError


def delivery_replay(request, **kwargs):
    raise NotImplementedError


def revolut_webhook(request, **kwargs):
    raise NotImplementedError
