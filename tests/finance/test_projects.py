"""Projects through the services: the signed-and-deposit-paid gate, the lifecycle, milestones and providers."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from finance.models import AuditEvent, DepositRule, Invoice, Project
from finance.services import documents, payments, projects
from finance.services.documents import LineInput
from finance.services.projects import ProjectStateError
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, SupplierFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
ISSUE_DAY = datetime.date(2026, 11, 10)
PAY_DAY = datetime.date(2026, 11, 20)
# Stored under settings.LANGUAGE_CODE ("fr"), whatever language the user who starts the project reads.
SIGNAGE_MILESTONES = [
    (1, "Visite technique du site", 7),
    (2, "Matériel commandé", 14),
    (3, "Configuration du contenu et du lecteur", 30),
    (4, "Installation sur site", 45),
    (5, "Réception par le client", 60),
]
SOFTWARE_MILESTONES = [
    (1, "Cahier des charges validé", 14),
    (2, "Première livraison", 45),
    (3, "Tests de réception", 75),
    (4, "Mise en production", 90),
]


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in their source language; their French is tested with the pages."""
    with translation.override("en"):
        yield


@pytest.fixture
def seller():
    company = CompanyFactory(code="QS", qr_iban="CH4431999123000889012", payment_terms_days=30)
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10)
    # Software work starts on signature: no deposit.
    DepositRule.objects.create(company=company, project_type="software", percent=D("0"), due_days=10)
    return company


@pytest.fixture
def user():
    return UserFactory()


def draft_quote(seller, user, *, project_type="digital_signage"):
    """The quote of test_documents: net 1135.21, and with a 30 % deposit a deposit invoice of 365.90."""
    quote = documents.quote_create(
        client=ClientFactory(company=seller), title="Mur LED", quote_date=datetime.date(2026, 11, 2),
        valid_until=datetime.date(2026, 12, 2), project_type=project_type, currency="CHF", created_by=user,
    )  # fmt: skip
    return documents.quote_lines_replace(
        quote=quote,
        edited_by=user,
        lines=[
            LineInput("Écran LED 55 pouces", quantity=D("3"), unit_price=D("333.33"), vat_code="standard"),
            LineInput(
                "Repas équipe", quantity=D("1.5"), unit_price=D("99.90"), vat_code="reduced", discount_percent=D("10")
            ),  # fmt: skip
            LineInput("Câble", quantity=D("1"), unit_price=D("0.35"), vat_code="standard", unit="pce"),
        ],
    )


@pytest.fixture
def sent_quote(seller, user):
    return documents.quote_send(quote=draft_quote(seller, user), sent_by=user)


@pytest.fixture
def waiting_project(sent_quote, user):
    """A project opened from a sent quote that asks for a 30 % deposit."""
    return projects.project_create_from_quote(quote=sent_quote, created_by=user)


@pytest.fixture
def active_project(seller, user):
    """A software project: its quote asks for no deposit, so signing it starts the work."""
    quote = documents.quote_send(quote=draft_quote(seller, user, project_type="software"), sent_by=user)
    project = projects.project_create_from_quote(quote=quote, created_by=user)
    documents.quote_mark_signed(quote=quote, actor=user)
    return Project.objects.get(pk=project.pk)


def sign(quote, user):
    return documents.quote_mark_signed(quote=quote, actor=user)


def issued_deposit(quote, user):
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    return documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)


def pay(invoice, user, amount):
    return payments.payment_record(
        client=invoice.client, received_on=PAY_DAY, amount=amount, method="bank_transfer", reference="Acompte",
        allocations=[(invoice, amount)], recorded_by=user,
    )  # fmt: skip


def project_events(project, action=None):
    events = AuditEvent.objects.filter(object_type="finance.project", object_id=str(project.pk)).order_by("id")
    return events.filter(action=action) if action else events


def milestone_rows(project):
    return [(m.position, m.title, m.due_date, m.status, m.done_on) for m in project.milestones.all()]


def expected_milestones(template, start):
    return [
        (position, title, start + datetime.timedelta(days=days), "planned", None) for position, title, days in template
    ]


def assert_not_started(project):
    project = Project.objects.get(pk=project.pk)
    assert project.activated_at is None
    assert project.milestones.count() == 0
    assert project_events(project, "project.activated").count() == 0


# --- Creation from a quote ----------------------------------------------------------------------


def test_a_project_opened_from_a_sent_quote_waits_as_quote_sent_with_the_quotes_figures(sent_quote, user, seller):
    project = projects.project_create_from_quote(quote=sent_quote, created_by=user, manager=user)

    assert (project.status, project.name, project.project_type, project.currency, project.budget) == (
        "quote_sent",
        "Mur LED",
        "digital_signage",
        "CHF",
        D("1135.21"),
    )
    assert (project.company_id, project.client_id, project.quote_id, project.manager_id) == (
        seller.pk,
        sent_quote.client_id,
        sent_quote.pk,
        user.pk,
    )
    assert_not_started(project)
    assert projects.project_gate_reason(project) == "The quote QS-DEV-2026-0001 is not signed yet."
    assert [(e.action, e.actor_id, e.changes) for e in project_events(project)] == [
        ("project.created", user.pk, {"quote": "QS-DEV-2026-0001", "budget": "1135.21"})
    ]


def test_signing_the_quote_moves_its_project_to_signed_but_does_not_start_it(waiting_project, user):
    sign(waiting_project.quote, user)

    project = Project.objects.get(pk=waiting_project.pk)
    assert project.status == "signed"
    assert_not_started(project)
    assert projects.project_gate_reason(project) == "No deposit invoice yet."
    changed = project_events(project, "project.status_changed").get()
    assert changed.changes == {"status_from": "quote_sent", "status_to": "signed"}
    assert changed.detail == "Quote sent → Signed"


@pytest.mark.parametrize(
    ("stage", "reason"),
    [
        ("missing", "No deposit invoice yet."),
        ("draft", "The deposit invoice is not issued yet."),
        ("issued", "The deposit invoice QS-2026-0001 is not fully paid."),
        ("partially_paid", "The deposit invoice QS-2026-0001 is not fully paid."),
    ],
)
def test_a_signed_project_stays_inactive_while_its_deposit_is_not_fully_paid(waiting_project, user, stage, reason):
    quote = sign(waiting_project.quote, user)
    if stage != "missing":
        deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
        if stage != "draft":
            deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)
        if stage == "partially_paid":
            pay(deposit, user, D("365.85"))
        assert Invoice.objects.get(pk=deposit.pk).status == stage

    assert projects.project_activate_if_ready(project=waiting_project, actor=user) is False
    project = Project.objects.get(pk=waiting_project.pk)
    assert project.status == "signed"
    assert_not_started(project)
    assert projects.project_gate_reason(project) == reason


def test_the_payment_completing_the_deposit_activates_the_project_once(waiting_project, user):
    quote = sign(waiting_project.quote, user)
    deposit = issued_deposit(quote, user)
    assert deposit.payable_total == D("365.90")
    cashier = UserFactory()

    pay(deposit, cashier, D("365.90"))

    today = timezone.localdate()
    project = Project.objects.get(pk=waiting_project.pk)
    assert Invoice.objects.get(pk=deposit.pk).status == "paid"
    assert project.status == "deposit_received"
    assert project.activated_at is not None
    assert timezone.localdate(project.activated_at) == today
    assert milestone_rows(project) == expected_milestones(SIGNAGE_MILESTONES, today)
    assert projects.project_gate_reason(project) == ""
    activated = project_events(project, "project.activated").get()
    assert (activated.actor_id, activated.changes) == (
        cashier.pk,
        {"status_from": "signed", "status_to": "deposit_received"},
    )
    assert activated.detail == "Signed → Deposit received"

    # Activation happens once: neither a re-run (another day) nor the next payment on the quote starts it again.
    assert projects.project_activate_if_ready(project=project, actor=user, today=datetime.date(2027, 1, 4)) is False
    balance = documents.invoice_create_balance(quote=quote, created_by=user)
    balance = documents.invoice_issue(invoice=balance, issued_by=user, issue_date=ISSUE_DAY)
    pay(balance, user, balance.payable_total)
    assert Invoice.objects.get(pk=balance.pk).status == "paid"
    again = Project.objects.get(pk=project.pk)
    assert (again.status, again.activated_at) == ("deposit_received", project.activated_at)
    assert milestone_rows(again) == expected_milestones(SIGNAGE_MILESTONES, today)
    assert project_events(project, "project.activated").count() == 1


def test_a_deposit_paid_in_two_parts_activates_the_project_on_the_second_payment_only(waiting_project, user):
    deposit = issued_deposit(sign(waiting_project.quote, user), user)
    second_payer = UserFactory()

    pay(deposit, user, D("200.00"))
    assert Invoice.objects.get(pk=deposit.pk).status == "partially_paid"
    assert documents.invoice_balance_due(Invoice.objects.get(pk=deposit.pk)) == D("165.90")
    assert Project.objects.get(pk=waiting_project.pk).status == "signed"
    assert_not_started(waiting_project)

    pay(deposit, second_payer, D("165.90"))
    project = Project.objects.get(pk=waiting_project.pk)
    assert Invoice.objects.get(pk=deposit.pk).status == "paid"
    assert project.status == "deposit_received"
    assert project.activated_at is not None
    assert milestone_rows(project) == expected_milestones(SIGNAGE_MILESTONES, timezone.localdate())
    assert list(project_events(project, "project.activated").values_list("actor_id", flat=True)) == [second_payer.pk]


def test_a_deposit_settled_by_a_credit_note_does_not_activate_the_project(waiting_project, user):
    deposit = issued_deposit(sign(waiting_project.quote, user), user)

    note = documents.credit_note_create(invoice=deposit, created_by=user, reason="Projet suspendu")
    documents.invoice_issue(invoice=note, issued_by=user, issue_date=ISSUE_DAY)

    assert Invoice.objects.get(pk=deposit.pk).status == "cancelled"
    assert projects.project_activate_if_ready(project=waiting_project, actor=user) is False
    project = Project.objects.get(pk=waiting_project.pk)
    assert project.status == "signed"
    assert_not_started(project)
    assert projects.project_gate_reason(project) == "No deposit invoice yet."


def test_a_deposit_completed_by_a_credit_note_after_a_part_payment_activates_the_project(waiting_project, user):
    """The deposit ends `paid` (paid 200.00 + credited 165.90), so the gate is open: the project must start."""
    deposit = issued_deposit(sign(waiting_project.quote, user), user)
    pay(deposit, user, D("200.00"))

    note = documents.credit_note_create(invoice=deposit, created_by=user, reason="Geste commercial", amount=D("165.90"))
    documents.invoice_issue(invoice=note, issued_by=user, issue_date=ISSUE_DAY)

    assert Invoice.objects.get(pk=deposit.pk).status == "paid"
    project = Project.objects.get(pk=waiting_project.pk)
    assert projects.project_gate_reason(project) == ""
    assert project.status == "deposit_received"


def test_a_quote_without_deposit_activates_its_project_on_signature(seller, user):
    quote = documents.quote_send(quote=draft_quote(seller, user, project_type="software"), sent_by=user)
    assert quote.deposit_percent == D("0.00")
    project = projects.project_create_from_quote(quote=quote, created_by=user)
    assert project.status == "quote_sent"

    sign(quote, user)

    project = Project.objects.get(pk=project.pk)
    today = timezone.localdate()
    assert project.status == "deposit_received"
    assert timezone.localdate(project.activated_at) == today
    assert milestone_rows(project) == expected_milestones(SOFTWARE_MILESTONES, today)
    assert [(e.action, e.changes) for e in project_events(project)] == [
        ("project.created", {"quote": "QS-DEV-2026-0001", "budget": "1135.21"}),
        ("project.status_changed", {"status_from": "quote_sent", "status_to": "signed"}),
        ("project.activated", {"status_from": "signed", "status_to": "deposit_received"}),
    ]


def test_a_project_opened_from_a_signed_quote_with_its_deposit_paid_activates_at_creation(sent_quote, user):
    quote = sign(sent_quote, user)
    deposit = issued_deposit(quote, user)
    pay(deposit, user, D("365.90"))
    assert not Project.objects.filter(quote=quote).exists()

    project = projects.project_create_from_quote(quote=quote, created_by=user, name="Mur LED – hall")

    today = timezone.localdate()
    assert (project.status, project.name, project.budget) == ("deposit_received", "Mur LED – hall", D("1135.21"))
    assert timezone.localdate(project.activated_at) == today
    assert milestone_rows(project) == expected_milestones(SIGNAGE_MILESTONES, today)
    assert [(e.action, e.changes) for e in project_events(project)] == [
        ("project.created", {"quote": "QS-DEV-2026-0001", "budget": "1135.21"}),
        ("project.activated", {"status_from": "signed", "status_to": "deposit_received"}),
    ]


def test_a_project_opened_from_a_signed_quote_with_an_unpaid_deposit_waits_as_signed(sent_quote, user):
    quote = sign(sent_quote, user)
    issued_deposit(quote, user)

    project = projects.project_create_from_quote(quote=quote, created_by=user)

    assert project.status == "signed"
    assert_not_started(project)
    assert projects.project_gate_reason(project) == "The deposit invoice QS-2026-0001 is not fully paid."


@pytest.mark.parametrize(
    ("refuse", "message"),
    [
        (lambda quote, user: quote, "A project is opened from a sent or signed quote; this one is draft."),
        (
            lambda quote, user: documents.quote_reject(
                quote=documents.quote_send(quote=quote, sent_by=user), actor=user
            ),
            "A project is opened from a sent or signed quote; this one is rejected.",
        ),
    ],
    ids=["draft", "rejected"],
)
def test_a_project_is_not_opened_from_a_draft_or_rejected_quote(seller, user, refuse, message):
    quote = refuse(draft_quote(seller, user), user)

    with pytest.raises(ProjectStateError) as refused:
        projects.project_create_from_quote(quote=quote, created_by=user)

    assert (refused.value.code, refused.value.messages) == ("quote_status", [message])
    assert not Project.objects.exists()


def test_a_quote_gets_one_project_only(waiting_project, sent_quote, user):
    with pytest.raises(ProjectStateError) as refused:
        projects.project_create_from_quote(quote=sent_quote, created_by=user, name="Doublon")

    assert (refused.value.code, refused.value.messages) == ("exists", ["QS-DEV-2026-0001 has a project already."])
    assert list(Project.objects.values_list("pk", flat=True)) == [waiting_project.pk]


def test_the_budget_of_a_project_with_a_quote_stays_the_quotes_net_total(waiting_project, user):
    with pytest.raises(ValidationError) as refused:
        projects.project_update(project=waiting_project, updated_by=user, budget=D("1200.00"))

    assert refused.value.message_dict == {"budget": ["The budget of a project with a quote is the quote's net total."]}
    assert Project.objects.get(pk=waiting_project.pk).budget == D("1135.21")


# --- Creation by hand ---------------------------------------------------------------------------


def test_a_project_agreed_without_a_quote_starts_in_preparation_with_generic_milestones(seller, user):
    client = ClientFactory(company=seller)

    project = projects.project_create(
        client=client, created_by=user, name="Audit réseau", project_type="consulting", budget=D("4800.00"),
        today=datetime.date(2026, 11, 16),
    )  # fmt: skip

    assert (project.status, project.company_id, project.currency, project.budget, project.quote_id) == (
        "in_preparation",
        seller.pk,
        "CHF",
        D("4800.00"),
        None,
    )
    assert project.activated_at is not None
    assert milestone_rows(project) == [
        (1, "Lancement avec le client", datetime.date(2026, 11, 23), "planned", None),
        (2, "Livraison principale", datetime.date(2026, 12, 16), "planned", None),
        (3, "Réception par le client", datetime.date(2026, 12, 31), "planned", None),
    ]
    assert projects.project_gate_reason(project) == ""
    assert projects.project_activate_if_ready(project=project, actor=user) is False
    assert [(e.action, e.changes) for e in project_events(project)] == [("project.created", {"budget": "4800.00"})]


# --- Lifecycle ----------------------------------------------------------------------------------


def test_work_under_way_advances_step_by_step_until_closed(active_project, user):
    statuses = [projects.project_advance(project=active_project, advanced_by=user).status for _ in range(5)]

    assert statuses == ["in_preparation", "ordering", "installing", "delivered", "closed"]
    assert [e.detail for e in project_events(active_project, "project.status_changed")] == [
        "Quote sent → Signed",
        "Deposit received → In preparation",
        "In preparation → Ordering",
        "Ordering → Installing",
        "Installing → Delivered",
        "Delivered → Closed",
    ]
    with pytest.raises(ProjectStateError) as refused:
        projects.project_advance(project=active_project, advanced_by=user)
    assert (refused.value.code, refused.value.messages) == (
        "no_next_step",
        ["A project that is closed has no next step here."],
    )
    with pytest.raises(ProjectStateError) as cancelling:
        projects.project_cancel(project=active_project, cancelled_by=user, reason="Trop tard")
    assert cancelling.value.messages == ["The project is closed already."]
    assert Project.objects.get(pk=active_project.pk).status == "closed"


@pytest.mark.parametrize(("signed", "message"), [(False, "quote sent"), (True, "signed")])
def test_a_project_waiting_for_its_gate_cannot_advance(waiting_project, user, signed, message):
    if signed:
        sign(waiting_project.quote, user)

    with pytest.raises(ProjectStateError) as refused:
        projects.project_advance(project=waiting_project, advanced_by=user)

    assert refused.value.messages == [f"A project that is {message} has no next step here."]
    assert Project.objects.get(pk=waiting_project.pk).status == ("signed" if signed else "quote_sent")


def test_a_hold_needs_a_reason_and_resuming_returns_to_the_status_before_it(active_project, user):
    projects.project_advance(project=active_project, advanced_by=user)
    projects.project_advance(project=active_project, advanced_by=user)

    with pytest.raises(ValidationError) as refused:
        projects.project_hold(project=active_project, held_by=user, reason="   ")
    assert refused.value.message_dict == {"reason": ["Say why the project is on hold."]}
    assert Project.objects.get(pk=active_project.pk).status == "ordering"

    held = projects.project_hold(project=active_project, held_by=user, reason="  Client en vacances ")
    assert (held.status, held.status_before_hold) == ("on_hold", "ordering")
    assert (
        project_events(active_project, "project.status_changed").last().detail
        == "Ordering → On hold · Client en vacances"
    )
    with pytest.raises(ProjectStateError, match="A project that is on hold has no next step here."):
        projects.project_advance(project=active_project, advanced_by=user)
    with pytest.raises(ProjectStateError, match="Only an open project can be put on hold."):
        projects.project_hold(project=active_project, held_by=user, reason="Encore")

    resumed = projects.project_resume(project=active_project, resumed_by=user)
    assert (resumed.status, resumed.status_before_hold) == ("ordering", "")
    assert project_events(active_project, "project.status_changed").last().detail == "On hold → Ordering"
    with pytest.raises(ProjectStateError, match="Only a project on hold can resume."):
        projects.project_resume(project=active_project, resumed_by=user)


def test_a_deposit_paid_during_a_hold_activates_the_project_when_it_resumes(waiting_project, user):
    deposit = issued_deposit(sign(waiting_project.quote, user), user)
    projects.project_hold(project=waiting_project, held_by=user, reason="Attente du bon de commande")

    pay(deposit, user, D("365.90"))
    held = Project.objects.get(pk=waiting_project.pk)
    assert (held.status, held.status_before_hold) == ("on_hold", "signed")
    assert_not_started(held)

    projects.project_resume(project=waiting_project, resumed_by=user)

    project = Project.objects.get(pk=waiting_project.pk)
    assert (project.status, project.status_before_hold) == ("deposit_received", "")
    assert milestone_rows(project) == expected_milestones(SIGNAGE_MILESTONES, timezone.localdate())
    assert [(e.action, e.detail) for e in project_events(project).exclude(action="project.created")] == [
        ("project.status_changed", "Quote sent → Signed"),
        ("project.status_changed", "Signed → On hold · Attente du bon de commande"),
        ("project.status_changed", "On hold → Signed"),
        ("project.activated", "Signed → Deposit received"),
    ]


def test_cancelling_needs_a_reason_and_ends_the_project(active_project, user):
    projects.project_hold(project=active_project, held_by=user, reason="Client injoignable")

    with pytest.raises(ValidationError) as refused:
        projects.project_cancel(project=active_project, cancelled_by=user, reason="")
    assert refused.value.message_dict == {"reason": ["Say why the project is cancelled."]}
    assert Project.objects.get(pk=active_project.pk).status == "on_hold"

    cancelled = projects.project_cancel(project=active_project, cancelled_by=user, reason="Client en faillite")

    assert (cancelled.status, cancelled.status_before_hold) == ("cancelled", "")
    assert project_events(active_project, "project.status_changed").last().detail == (
        "On hold → Cancelled · Client en faillite"
    )
    with pytest.raises(ProjectStateError) as again:
        projects.project_cancel(project=active_project, cancelled_by=user, reason="Encore")
    assert (again.value.code, again.value.messages) == ("closed", ["The project is closed already."])
    with pytest.raises(ProjectStateError, match="A project that is cancelled has no next step here."):
        projects.project_advance(project=active_project, advanced_by=user)
    with pytest.raises(ProjectStateError, match="Only an open project can be put on hold."):
        projects.project_hold(project=active_project, held_by=user, reason="Encore")


# --- Milestones and providers -------------------------------------------------------------------


def test_marking_a_milestone_done_dates_it_today_and_undoing_it_clears_the_date(active_project, user):
    first = active_project.milestones.get(position=1)

    done = projects.milestone_save(
        project=active_project, saved_by=user, milestone=first, status="done", today=datetime.date(2026, 12, 1)
    )
    assert (done.status, done.done_on) == ("done", datetime.date(2026, 12, 1))
    renamed = projects.milestone_save(
        project=active_project, saved_by=user, milestone=done, title="Cahier des charges validé",
        today=datetime.date(2026, 12, 5),
    )  # fmt: skip
    assert (renamed.status, renamed.done_on) == ("done", datetime.date(2026, 12, 1))
    undone = projects.milestone_save(project=active_project, saved_by=user, milestone=renamed, status="in_progress")

    assert (undone.status, undone.done_on) == ("in_progress", None)
    stored = active_project.milestones.get(pk=first.pk)
    assert (stored.title, stored.status, stored.done_on) == ("Cahier des charges validé", "in_progress", None)
    events = project_events(active_project).filter(action__startswith="milestone.")
    assert [(e.action, e.changes["status"], e.detail) for e in events] == [
        ("milestone.done", "done", "Cahier des charges validé"),
        ("milestone.done", "done", "Cahier des charges validé"),
        ("milestone.saved", "in_progress", "Cahier des charges validé"),
    ]


def test_a_new_milestone_comes_after_the_others(active_project, user):
    added = projects.milestone_save(
        project=active_project, saved_by=user, title="Formation des utilisateurs",
        due_date=datetime.date(2027, 3, 1), billable_amount=D("850.00"),
    )  # fmt: skip

    assert (added.position, added.status, added.done_on, added.billable_amount) == (5, "planned", None, D("850.00"))
    assert active_project.milestones.count() == 5


def test_a_milestone_links_only_an_invoice_of_the_projects_quote(active_project, user, seller):
    invoice = documents.invoice_create_full(quote=active_project.quote, created_by=user)
    milestone = active_project.milestones.get(position=4)

    linked = projects.milestone_save(project=active_project, saved_by=user, milestone=milestone, invoice=invoice)
    assert Invoice.objects.get(pk=invoice.pk).milestones.get() == linked

    other = InvoiceFactory(company=seller, client=active_project.client)
    with pytest.raises(ValidationError) as refused:
        projects.milestone_save(project=active_project, saved_by=user, milestone=milestone, invoice=other)
    assert refused.value.message_dict == {"invoice": ["Link an invoice of this project's quote or client."]}
    assert active_project.milestones.get(pk=milestone.pk).invoice_id == invoice.pk


def test_a_project_without_a_quote_refuses_an_invoice_of_another_company(seller, user):
    project = projects.project_create(
        client=ClientFactory(company=seller), created_by=user, name="Audit réseau", project_type="consulting",
        budget=D("4800.00"),
    )  # fmt: skip
    foreign = InvoiceFactory(company=CompanyFactory(code="QT"))
    milestone = project.milestones.get(position=2)

    with pytest.raises(ValidationError):
        projects.milestone_save(project=project, saved_by=user, milestone=milestone, invoice=foreign)

    assert project.milestones.get(pk=milestone.pk).invoice_id is None


def test_a_provider_is_assigned_for_the_agreed_amount_of_their_quote(active_project, user, seller):
    supplier = SupplierFactory(company=seller, name="Écrans Romands Sàrl")

    assignment = projects.assignment_save(
        project=active_project, saved_by=user, supplier=supplier, role="Installation", agreed_amount=D("1250.50"),
        quote_reference="ER-2026-114", accepted_on=datetime.date(2026, 11, 25),
    )  # fmt: skip

    assert list(active_project.assignments.values_list("supplier_id", "role", "agreed_amount", "quote_reference")) == [
        (supplier.pk, "Installation", D("1250.50"), "ER-2026-114")
    ]
    assert assignment.accepted_on == datetime.date(2026, 11, 25)
    saved = project_events(active_project, "assignment.saved").get()
    assert saved.detail == "Écrans Romands Sàrl · Installation · 1250.50"


def test_a_supplier_of_another_company_cannot_be_assigned(active_project, user):
    foreign = SupplierFactory(company=CompanyFactory(code="QT"))

    with pytest.raises(ValidationError) as refused:
        projects.assignment_save(
            project=active_project, saved_by=user, supplier=foreign, role="Installation", agreed_amount=D("900.00")
        )

    assert refused.value.message_dict == {"supplier": ["The supplier belongs to another company."]}
    assert active_project.assignments.count() == 0
    assert project_events(active_project, "assignment.saved").count() == 0
