"""Company isolation at the address bar: every URL that names one company's object, fetched and posted by
the staff of another company, answers 404 — never a page, a redirect or a change. (The CEO runs the whole
group: tests/finance/test_isolation.py shows the CEO's scope.)"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from finance.models import Role
from integrations.models import ActionRun
from tests.finance.test_isolation import other_company_objects  # noqa: F401 - the fixture used below

pytestmark = pytest.mark.django_db

ROLES = [Role.FINANCE, Role.SALES, Role.OPERATIONS, Role.VIEWER]
# Addresses that name no company's object: the dashboard's partials, and public links carrying a token.
NOT_OBJECT_URLS = {"dashboard:partial", "finance:reminder-pdf-public"}


def object_kwargs(objects: dict) -> dict[str, dict]:
    """Each URL naming an object, with the kwargs that point it at company B's object."""
    company, client, quote = objects["company"].code, objects["client"].pk, objects["quote"].pk
    signature, project = objects["quote_signature"], objects["project"].pk
    capture, supplier_invoice = objects["supplier_invoice_capture"].pk, objects["supplier_invoice"].pk
    run = objects["action_run"].pk
    by_pk = {
        "client": client, "lead": objects["lead"].pk, "quote": quote, "invoice": objects["invoice"].pk,
        "supplier": objects["supplier"].pk, "supplier-invoice": supplier_invoice, "capture": capture,
        "transaction": objects["bank_transaction"].pk, "project": project, "payment": objects["payment"].pk,
        "reminder": objects["reminder"].pk, "milestone": objects["milestone"].pk, "approval": supplier_invoice,
        "credit-note": objects["invoice"].pk, "action-run": run,
    }  # fmt: skip
    kwargs = {
        "finance:company-detail": {"code": company},
        "finance:company-edit": {"code": company},
        "finance:account-map": {"code": company},
        "finance:deposit-rule-new": {"code": company},
        "finance:deposit-rule-edit": {"code": company, "pk": objects["deposit_rule"].pk},
        "finance:deposit-rule-delete": {"code": company, "pk": objects["deposit_rule"].pk},
        "finance:dunning-settings": {"code": company},
        "finance:dunning-preview": {"code": company},
        "finance:contact-new": {"client_pk": client},
        "finance:contact-edit": {"client_pk": client, "pk": objects["contact"].pk},
        "finance:payment-new": {"client_pk": client},
        "finance:quote-signature-file": {"pk": signature.quote_id, "signature_pk": signature.pk, "kind": "signed"},
        "finance:quote-project": {"quote_pk": quote},
        "finance:capture-page": {"pk": capture, "number": 1},
        "finance:milestone-new": {"project_pk": project},
        "finance:milestone-edit": {"project_pk": project, "pk": objects["milestone"].pk},
        "finance:assignment-new": {"project_pk": project},
        "finance:vat-return": {"company_code": company, "start": "2024-01-01"},
        "finance:accountant-pack-year": {"company_code": company, "year": 2024},
        "finance:vat-return-file": {"company_code": company, "start": "2024-01-01"},
        "finance:vat-return-download": {"company_code": company, "start": "2024-01-01", "kind": "pdf"},
        "integrations:mautic-acknowledgement-emails": {"company_code": company},
        "integrations:revolut-consent": {"company_code": company},
    }
    for name in ("connection", "connection-test", "connection-register-webhook"):
        kwargs[f"integrations:{name}"] = {"provider": "revolut", "company_code": company}
    for name, pattern in url_patterns_with_kwargs():
        if name in kwargs or name in NOT_OBJECT_URLS:
            continue
        model = next((prefix for prefix in sorted(by_pk, key=len, reverse=True)
                      if name.split(":")[1].startswith(prefix + "-")), None)  # fmt: skip
        if model is not None and set(pattern.pattern.converters) == {"pk"}:
            kwargs[name] = {"pk": by_pk[model]}
    return kwargs


def url_patterns_with_kwargs(patterns=None, namespace: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name in ("admin", "sandbox") or str(pattern.pattern).startswith(("admin", "sandbox")):
                continue
            yield from url_patterns_with_kwargs(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.pattern.converters and pattern.name:
            if str(pattern.pattern).startswith("webhooks/"):
                continue  # signed by providers, no session: tested in tests/integrations
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name, pattern


@pytest.fixture
def objects(other_company_objects):  # noqa: F811 - the imported fixture
    invoice = other_company_objects["invoice"]
    run = ActionRun.objects.create(
        action="invoice_ninja.send", company=other_company_objects["company"], idempotency_key="iso-run",
        target_type=ContentType.objects.get_for_model(invoice), target_id=invoice.pk, status="failed",
        finished_at=timezone.now(),
    )  # fmt: skip
    return {**other_company_objects, "action_run": run}


def test_every_address_naming_an_object_is_in_the_sweep(objects):
    covered = object_kwargs(objects)
    named = {name for name, _pattern in url_patterns_with_kwargs()} - NOT_OBJECT_URLS
    assert sorted(named - set(covered)) == []


@pytest.mark.parametrize("role", ROLES)
def test_another_companys_object_urls_answer_404_to_get_and_post(client, role, company_a, member_of, objects):
    client.force_login(member_of(company_a, role))
    answers = {}
    for name, kwargs in sorted(object_kwargs(objects).items()):
        url = reverse(name, kwargs=kwargs)
        answers[f"GET {name}"] = client.get(url).status_code
        answers[f"POST {name}"] = client.post(url, {"reason": "x", "code": "123456"}).status_code

    # 405: an address refuses the other method before it looks anything up, the same for every id.
    leaks = {request: status for request, status in answers.items() if status not in (404, 405)}
    assert leaks == {}
    assert len(answers) >= 160
    assert sum(status == 404 for status in answers.values()) >= len(answers) // 2
