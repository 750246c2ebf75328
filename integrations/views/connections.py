"""Placeholder: being written."""


def connection_list(request, **kwargs):
    raise NotImplementedError


def connection_detail(request, **kwargs):
    raise NotImplementedError


def connection_test(request, **kwargs):
    raise NotImplementedError


def connection_register_webhook(request, **kwargs):
    raise NotImplementedError


def revolut_consent(request, **kwargs):
    raise NotImplementedError


def revolut_oauth_callback(request, **kwargs):
    raise NotImplementedError
