"""Leads: database rules, intake and merging, the rule score, follow-up, "Créer le devis", pages, dashboard."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from dashboard import selectors as dashboard_selectors
from finance import selectors
from finance.models import AuditEvent, Client, Lead, Quote, QuoteLine, Role
from finance.scope import CompanyScope
from finance.services import documents, leads
from finance.services.documents import LineInput
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

D = Decimal
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def lead_input(**overrides) -> leads.LeadInput:
    values = {
        "source": Lead.Source.WEBSITE, "first_name": "Anna", "last_name": "Meier", "organisation": "Hôtel du Lac SA",
        "email": "Anna.Meier@Example.ch", "phone": "079 123 45 67", "language": "de", "town": "Luzern",
        "project_type": "digital_signage", "budget": D("12000"), "event_date": TODAY + dt.timedelta(days=20),
        "message": "Drei Bildschirme für die Lobby.",
    }  # fmt: skip
    values.update(overrides)
    return leads.LeadInput(**values)


def receive(company, *, at=NOW, **overrides):
    return leads.lead_receive(company=company, data=lead_input(**overrides), actor=None, now=at)


def timeline_actions(lead) -> list[str]:
    events = AuditEvent.objects.filter(object_type="finance.lead", object_id=str(lead.pk)).order_by("pk")
    return list(events.values_list("action", flat=True))


# --- Database rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("status", "'maybe'", "lead_status_known"),
        ("source", "'fax'", "lead_source_known"),
        ("rule_score", "101", "lead_rule_score_range"),
        ("ai_score", "0", "lead_ai_score_range"),
        ("ai_score", "11", "lead_ai_score_range"),
        ("ai_action", "'buy'", "lead_ai_action_known"),
        ("phone", "'079 123'", "lead_phone_e164"),
        ("received_count", "0", "lead_received_count_positive"),
        ("budget", "-1", "lead_budget_positive"),
        ("status", "'lost'", "lead_lost_has_reason"),
        ("status", "'won'", "lead_quote_stage_has_quote"),
    ],
)
def test_postgresql_refuses_what_the_model_forbids(company_a, column, value, constraint):
    lead, _created = receive(company_a)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE finance_lead SET {column} = {value} WHERE id = %s", [lead.pk])  # noqa: S608


def test_postgresql_refuses_a_lead_without_email_or_phone(company_a):
    lead, _created = receive(company_a)
    with (
        pytest.raises(IntegrityError, match="lead_email_or_phone"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE finance_lead SET email = '', phone = '' WHERE id = %s", [lead.pk])


# --- Intake ----------------------------------------------------------------------------------------


def test_a_new_lead_is_normalised_scored_and_logged(company_a):
    lead, created = receive(company_a)
    assert created is True
    assert (lead.email, lead.phone, lead.status, lead.received_count) == (
        "anna.meier@example.ch", "+41791234567", "new", 1)  # fmt: skip
    assert lead.rule_score == 90
    assert [(r["code"], r["points"]) for r in lead.rule_reasons] == [
        ("budget", 20), ("event_soon", 25), ("email", 10), ("phone", 10), ("organisation", 5), ("full_name", 5),
        ("project_type", 15),
    ]  # fmt: skip
    assert timeline_actions(lead) == ["lead.created", "lead.scored"]


def test_same_email_within_30_minutes_is_merged(company_a):
    first, _ = receive(company_a)
    again, created = receive(company_a, at=NOW + dt.timedelta(minutes=30), phone="", email="anna.meier@example.ch",
                             source=Lead.Source.EMAIL, message="Auch ein Mietangebot bitte.")  # fmt: skip
    assert created is False
    assert again.pk == first.pk
    assert again.received_count == 2
    assert again.message == (
        "Drei Bildschirme für die Lobby.\n\n— 01.12.2026 10:30 · E-mail —\nAuch ein Mietangebot bitte."
    )
    assert Lead.objects.count() == 1
    assert timeline_actions(again) == ["lead.created", "lead.scored", "lead.merged"]


def test_same_phone_within_the_window_is_merged_whatever_the_source(company_a):
    first, _ = receive(company_a)
    again, created = receive(company_a, at=NOW + dt.timedelta(minutes=10), email="", phone="+41 79 123 45 67",
                             source=Lead.Source.PHONE, message="")  # fmt: skip
    assert (created, again.pk, again.received_count) == (False, first.pk, 2)


def test_the_same_person_31_minutes_later_is_a_new_lead(company_a):
    first, _ = receive(company_a)
    later, created = receive(company_a, at=NOW + dt.timedelta(minutes=31))
    assert created is True
    assert later.pk != first.pk
    assert Lead.objects.count() == 2


def test_merging_stays_within_the_company(company_a, company_b):
    receive(company_a)
    other, created = receive(company_b, at=NOW + dt.timedelta(minutes=5))
    assert created is True
    assert other.company == company_b


def test_a_replayed_delivery_changes_nothing(company_a):
    lead, _ = leads.lead_receive(company=company_a, data=lead_input(), actor=None, delivery_id=41, now=NOW)
    again, created = leads.lead_receive(company=company_a, data=lead_input(), actor=None, delivery_id=41,
                                        now=NOW + dt.timedelta(minutes=1))  # fmt: skip
    assert (created, again.pk, again.received_count) == (False, lead.pk, 1)


def test_an_unusable_phone_is_a_field_error(company_a):
    with pytest.raises(ValidationError) as caught:
        receive(company_a, phone="call me")
    assert caught.value.message_dict == {"phone": ["Enter a phone number such as 079 123 45 67 or +41 79 123 45 67."]}


# --- Rule score ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "score"),
    [
        ({}, 90),
        ({"budget": D("50000")}, 100),
        ({"budget": D("2999.99")}, 75),
        ({"budget": None}, 70),
        ({"event_date": TODAY + dt.timedelta(days=31)}, 80),
        ({"event_date": TODAY + dt.timedelta(days=91)}, 70),
        ({"event_date": TODAY - dt.timedelta(days=1)}, 65),
        ({"event_date": None, "budget": None, "project_type": "other", "organisation": "", "phone": "",
          "last_name": ""}, 10),
    ],
)  # fmt: skip
def test_rule_score(company_a, overrides, score):
    lead = Lead(company=company_a, **{**lead_input(**overrides).cleaned()})
    assert leads.lead_rule_score(lead, today=TODAY)[0] == score


# --- Follow-up, quote, won and lost ----------------------------------------------------------------


def test_answering_stops_the_response_time_once(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    lead, _ = receive(company_a)
    lead = leads.lead_mark_answered(lead=lead, actor=seller)
    first = lead.first_response_at
    assert first is not None
    assert leads.lead_mark_answered(lead=lead, actor=seller).first_response_at == first


def test_a_lost_lead_keeps_its_reason(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    lead, _ = receive(company_a)
    lead = leads.lead_mark_lost(lead=lead, actor=seller, reason="Budget trop bas")
    assert (lead.status, lead.lost_reason) == ("lost", "Budget trop bas")
    assert lead.first_response_at is not None
    event = AuditEvent.objects.filter(action="lead.lost").get()
    assert event.detail == "New → Lost · Budget trop bas"


def test_the_quote_of_a_new_client(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    lead, _ = receive(company_a, language="en")  # the lines are written in the lead's language
    quote = leads.lead_quote_create(lead=lead, created_by=seller, client_fields={
        "kind": "organisation", "name": "Hôtel du Lac SA", "street": "Haldenstrasse", "building_number": "4",
        "postal_code": "6006", "town": "Luzern", "country": "CH", "email": "anna.meier@example.ch", "language": "de",
    })  # fmt: skip
    lead.refresh_from_db()
    assert (lead.status, lead.quote, lead.client) == ("quote", quote, quote.client)
    assert (quote.status, quote.title, quote.project_type, quote.currency) == (
        "draft", "Digital signage – Hôtel du Lac SA", "digital_signage", "CHF")  # fmt: skip
    assert list(quote.lines.values_list("description", "quantity", "unit_price")) == [
        ("Digital signage", D("1.000"), D("12000.00"))]  # fmt: skip
    assert quote.client.contacts.get().phone == "+41791234567"


def test_the_quote_of_a_known_client_found_by_email(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    known = ClientFactory(company=company_a, email="anna.meier@example.ch")
    lead, _ = receive(company_a, budget=None)
    quote = leads.lead_quote_create(lead=lead, created_by=seller)
    assert quote.client == known
    assert Client.objects.count() == 1
    assert quote.lines.count() == 0


def _signable_quote(lead, seller) -> Quote:
    quote = leads.lead_quote_create(lead=lead, created_by=seller, client_fields=None)
    documents.quote_lines_replace(
        quote=quote, lines=[LineInput(description="Écran", quantity=D("1"), unit_price=D("100"), vat_code="standard")],
        edited_by=seller,
    )  # fmt: skip
    return documents.quote_send(quote=quote, sent_by=seller)


def test_a_signed_quote_wins_the_lead(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    ClientFactory(company=company_a, email="anna.meier@example.ch")
    lead, _ = receive(company_a)
    quote = _signable_quote(lead, seller)
    documents.quote_mark_signed(quote=quote, actor=seller)
    lead.refresh_from_db()
    assert lead.status == "won"
    assert timeline_actions(lead)[-1] == "lead.won"


def test_a_rejected_quote_loses_the_lead_with_its_reason(company_a, member_of):
    seller = member_of(company_a, Role.SALES)
    ClientFactory(company=company_a, email="anna.meier@example.ch")
    lead, _ = receive(company_a)
    quote = _signable_quote(lead, seller)
    documents.quote_reject(quote=quote, actor=None, reason="Trop cher")
    lead.refresh_from_db()
    assert (lead.status, lead.lost_reason) == ("lost", "Trop cher")


# --- Pages -----------------------------------------------------------------------------------------


@pytest.fixture
def seller_web(client, company_a, member_of):
    user = member_of(company_a, Role.SALES, username="sam")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_list_filters_by_status_source_and_search(seller_web, company_a):
    receive(company_a)
    receive(company_a, email="paul@example.ch", phone="", first_name="Paul", last_name="Roth", organisation="",
            source=Lead.Source.PHONE)  # fmt: skip
    url = reverse("finance:lead-list")
    assert len(re.findall(r'href="/leads/\d+/"', seller_web.get(url).content.decode())) == 2
    by_source = seller_web.get(url, {"source": "phone"}).content.decode()
    assert "Paul Roth" in by_source
    assert "Anna Meier" not in by_source
    by_search = seller_web.get(url, {"q": "lac"}).content.decode()
    assert "Anna Meier" in by_search
    assert "Paul Roth" not in by_search
    assert "Anna Meier" not in seller_web.get(url, {"status": "won"}).content.decode()


def test_csv_exports_the_filtered_rows(seller_web, company_a):
    receive(company_a)
    receive(company_a, email="paul@example.ch", phone="", first_name="Paul", last_name="Roth", organisation="",
            source=Lead.Source.PHONE, budget=None, event_date=None, project_type="other", message="")  # fmt: skip
    response = seller_web.get(reverse("finance:lead-list"), {"source": "phone", "export": "csv"})
    rows = response.content.decode("utf-8-sig").split("\r\n")
    assert rows[0] == ("Received;Company;First name;Last name;Organisation;E-mail;Phone;Town;Source;Project type;"
                       "Currency;Budget;Date;Status;Rule score;AI score;Owner;Submissions")  # fmt: skip
    assert rows[1] == "01.12.2026 10:00;QA;Paul;Roth;;paul@example.ch;;Luzern;Phone call;Other;CHF;;;New;15;;;1"
    assert rows[2:] == [""]


def test_detail_shows_the_score_reasons_and_the_ai_notice(seller_web, company_a):
    lead, _ = receive(company_a)
    page = seller_web.get(lead.get_absolute_url()).content.decode()
    assert "Date within 30 days" in page
    assert "+25" in page
    assert "AI qualification is not configured for Alpha." in page


def test_the_form_shows_field_errors(seller_web, company_a):
    response = seller_web.post(reverse("finance:lead-new"), {
        "company": company_a.pk, "source": "phone", "language": "fr", "project_type": "other", "currency": "CHF",
        "phone": "abc", "email": "not-an-email",
    })  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["email"] == ["Enter a valid email address."]
    assert Lead.objects.count() == 0


def test_the_form_creates_a_lead(seller_web, company_a):
    response = seller_web.post(reverse("finance:lead-new"), {
        "company": company_a.pk, "source": "phone", "language": "fr", "project_type": "software", "currency": "CHF",
        "first_name": "Léa", "last_name": "Rochat", "phone": "021 311 22 33",
    })  # fmt: skip
    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response.url == lead.get_absolute_url()
    assert (lead.phone, lead.source, lead.rule_score) == ("+41213112233", "phone", 30)


def test_create_the_quote_page_makes_client_and_quote(seller_web, company_a):
    lead, _ = receive(company_a)
    url = reverse("finance:lead-quote", kwargs={"pk": lead.pk})
    assert seller_web.get(url).context["form"].initial["name"] == "Hôtel du Lac SA"
    response = seller_web.post(url, {"kind": "organisation", "name": "Hôtel du Lac SA", "street": "Haldenstrasse",
                                     "building_number": "4", "postal_code": "6006", "town": "Luzern", "country": "CH",
                                     "email": "anna.meier@example.ch", "language": "de"})  # fmt: skip
    lead.refresh_from_db()
    assert response.status_code == 302
    assert response.url == reverse("finance:quote-edit", kwargs={"pk": lead.quote.pk})
    assert (lead.status, lead.client.name, lead.quote.client_id) == ("quote", "Hôtel du Lac SA", lead.client.pk)
    assert QuoteLine.objects.filter(quote=lead.quote).count() == 1


def test_create_the_quote_asks_for_the_address(seller_web, company_a):
    lead, _ = receive(company_a)
    response = seller_web.post(reverse("finance:lead-quote", kwargs={"pk": lead.pk}), {"name": "X"})
    assert response.status_code == 200
    assert "street" in response.context["form"].errors
    assert Quote.objects.count() == 0


def test_another_companys_lead_is_not_found(seller_web, company_b):
    lead, _ = receive(company_b)
    assert seller_web.get(lead.get_absolute_url()).status_code == 404
    assert seller_web.post(reverse("finance:lead-answered", kwargs={"pk": lead.pk})).status_code == 404


def test_read_only_users_read_but_cannot_act(client, company_a, member_of):
    client.force_login(member_of(company_a, Role.VIEWER))
    lead, _ = receive(company_a)
    assert client.get(lead.get_absolute_url()).status_code == 200
    assert client.post(reverse("finance:lead-answered", kwargs={"pk": lead.pk})).status_code == 403
    assert client.post(reverse("finance:lead-lost", kwargs={"pk": lead.pk}), {"reason": "x"}).status_code == 403
    assert client.get(reverse("finance:lead-new")).status_code == 403
    lead.refresh_from_db()
    assert (lead.status, lead.first_response_at) == ("new", None)


def test_mark_lost_from_the_page(seller_web, company_a):
    lead, _ = receive(company_a)
    seller_web.post(reverse("finance:lead-lost", kwargs={"pk": lead.pk}), {"reason": "Déjà équipé"})
    lead.refresh_from_db()
    assert (lead.status, lead.lost_reason) == ("lost", "Déjà équipé")


# --- Dashboard -------------------------------------------------------------------------------------


def test_an_unanswered_lead_is_urgent_from_24_hours(company_a, member_of):
    ceo = member_of(company_a, Role.CEO)
    receive(company_a, at=NOW)
    scope = CompanyScope(user=ceo)

    def lead_items(now):
        items = dashboard_selectors.urgent_items(scope=scope, user=ceo, today=now.date(), now=now)
        return [(item.key, item.text, item.link) for item in items if item.key.startswith("leads:")]

    assert lead_items(NOW + dt.timedelta(hours=23, minutes=59)) == []
    assert lead_items(NOW + dt.timedelta(hours=24)) == [
        ("leads:QA", "1 new lead not answered within 24 h · oldest 24 hours", "/leads/?company=QA&unanswered=1")
    ]
    assert lead_items(NOW + dt.timedelta(days=3)) == [
        ("leads:QA", "1 new lead not answered within 24 h · oldest 3 days", "/leads/?company=QA&unanswered=1")
    ]
    Lead.objects.update(first_response_at=NOW + dt.timedelta(hours=30))
    assert lead_items(NOW + dt.timedelta(days=3)) == []


def test_the_dashboard_link_lists_exactly_the_unanswered_leads(seller_web, company_a):
    receive(company_a, at=timezone.now() - dt.timedelta(hours=25))
    receive(company_a, at=timezone.now(), email="new@example.ch", phone="", first_name="Nina", last_name="Neu")
    page = seller_web.get(reverse("finance:lead-list"), {"company": "QA", "unanswered": "1"}).content.decode()
    assert "Anna Meier" in page
    assert "Nina Neu" not in page


def test_the_unanswered_count_per_company_is_the_lists_condition(company_a, company_b):
    """The dashboard's count (SQL of its own, for speed) equals what the list's filter finds, lead by lead."""
    day = dt.timedelta(days=1)
    for number, (company, status, received, answered) in enumerate([
        (company_a, Lead.Status.NEW, NOW - 3 * day, False),  # counted, the oldest of QA
        (company_a, Lead.Status.QUALIFIED, NOW - 2 * day, False),  # counted
        (company_a, Lead.Status.NEW, NOW - dt.timedelta(hours=24), False),  # counted: exactly 24 hours
        (company_a, Lead.Status.NEW, NOW - dt.timedelta(hours=23), False),  # not yet
        (company_a, Lead.Status.NEW, NOW - 5 * day, True),  # answered
        (company_a, Lead.Status.LOST, NOW - 7 * day, False),  # closed
        (company_b, Lead.Status.QUALIFIED, NOW - 4 * day, False),  # counted, QB's only one
        (company_b, Lead.Status.LOST, NOW - 8 * day, False),
    ]):  # fmt: skip
        lead, _ = receive(company, at=received, email=f"lead{number}@example.ch", phone="")
        Lead.objects.filter(pk=lead.pk).update(
            status=status, first_response_at=NOW - day if answered else None,
            lost_reason="Budget" if status == Lead.Status.LOST else "",
        )  # fmt: skip
    found = selectors.lead_unanswered_by_company(company_ids=[company_a.pk, company_b.pk], now=NOW)
    listed = Lead.objects.filter(selectors.lead_unanswered_condition(now=NOW))
    expected = [
        {"company_id": company.pk, "count": listed.filter(company=company).count(),
         "oldest": min(lead.received_at for lead in listed.filter(company=company))}
        for company in (company_a, company_b)
    ]  # fmt: skip
    assert sorted(found, key=lambda row: row["company_id"]) == expected
    assert [(row["count"], row["oldest"]) for row in expected] == [(3, NOW - 3 * day), (1, NOW - 4 * day)]


def test_the_edit_form_changes_the_lead_and_its_score(seller_web, company_a):
    lead, _ = receive(company_a)
    data = {name: getattr(lead, name) or "" for name in leads.EDITABLE_FIELDS}
    soon = timezone.localdate() + dt.timedelta(days=10)
    data.update({"budget": "60000", "event_date": soon.isoformat(), "phone": "079 999 88 77"})
    response = seller_web.post(reverse("finance:lead-edit", kwargs={"pk": lead.pk}), data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.budget, lead.phone) == (D("60000.00"), "+41799998877")
    assert lead.rule_score == 100
    assert AuditEvent.objects.get(action="lead.updated").detail == "phone, budget, event or desired date"


def test_a_negative_budget_is_a_field_error(seller_web, company_a):
    response = seller_web.post(reverse("finance:lead-new"), {
        "company": company_a.pk, "source": "email", "language": "fr", "project_type": "other", "currency": "CHF",
        "email": "x@example.ch", "budget": "-5",
    })  # fmt: skip
    assert response.context["form"].errors["budget"] == ["Ensure this value is greater than or equal to 0."]
    assert Lead.objects.count() == 0


def test_setting_the_owner_and_filtering_by_owner(seller_web, company_a):
    lead, _ = receive(company_a)
    receive(company_a, email="paul@example.ch", phone="", first_name="Paul", last_name="Roth")
    sam = lead.company.memberships.get(user__username="sam").user
    seller_web.post(reverse("finance:lead-owner", kwargs={"pk": lead.pk}), {"owner": sam.pk})
    lead.refresh_from_db()
    assert lead.owner == sam
    assert lead.first_response_at is None
    mine = seller_web.get(reverse("finance:lead-list"), {"owner": str(sam.pk)}).content.decode()
    assert "Anna Meier" in mine
    assert "Paul Roth" not in mine
    nobodys = seller_web.get(reverse("finance:lead-list"), {"owner": "none"}).content.decode()
    assert "Paul Roth" in nobodys
    assert "Anna Meier" not in nobodys
    assert AuditEvent.objects.get(action="lead.owner_set").detail == f"Test {sam.last_name}"
