"""Placeholder: being written."""


def bank_account_list(request, **kwargs):
    raise NotImplementedError


def reconciliation(request, **kwargs):
    raise NotImplementedError


def transaction_match(request, **kwargs):
    raise NotImplementedError


def transaction_match_undo(request, **kwargs):
    raise NotImplementedError


def transaction_ignore(request, **kwargs):
    raise NotImplementedError
