"""Materialized views the dashboard reads its history from: one row per company, currency and day.

Each view stays small whatever the number of documents (days × companies × currencies), so the
dashboard costs the same with ten thousand invoices or a million. dashboard.figures refreshes them.
"""

from django.db import migrations

# Revenue: net of issued invoices minus net of credit notes, by the day they were issued.
SALES_DAY = """
CREATE MATERIALIZED VIEW dashboard_sales_day AS
SELECT company_id, currency, issue_date AS day,
       SUM(CASE WHEN kind <> 'credit_note' THEN net_total ELSE 0 END) AS invoiced_net,
       SUM(CASE WHEN kind = 'credit_note' THEN net_total ELSE 0 END) AS credited_net
FROM finance_invoice
WHERE status NOT IN ('draft', 'cancelled') AND issue_date IS NOT NULL
GROUP BY company_id, currency, issue_date;
CREATE UNIQUE INDEX dashboard_sales_day_key ON dashboard_sales_day (company_id, currency, day);
"""

# Receivables at the end of each day, as running totals of what changed them: an invoice adds its
# payable on its issue day (open) and the day after its due date (overdue); a credit note or a
# payment takes its amount off on its own day (open) and, for overdue, on that day or the day after
# the due date, whichever is later. The same rules as the invoice list's balance due.
RECEIVABLE_DAY = """
CREATE MATERIALIZED VIEW dashboard_receivable_day AS
WITH owed AS (
    SELECT id, company_id, currency, issue_date, due_date, payable_total
    FROM finance_invoice
    WHERE status IN ('issued', 'partially_paid', 'paid') AND kind <> 'credit_note'
), settled AS (
    SELECT owed.company_id, owed.currency, owed.due_date, credit.issue_date AS day, credit.payable_total AS amount
    FROM finance_invoice credit JOIN owed ON credit.credited_invoice_id = owed.id
    WHERE credit.status NOT IN ('draft', 'cancelled')
    UNION ALL
    SELECT owed.company_id, owed.currency, owed.due_date, payment.received_on, allocation.amount
    FROM finance_paymentallocation allocation
    JOIN finance_payment payment ON payment.id = allocation.payment_id
    JOIN owed ON owed.id = allocation.invoice_id
    WHERE payment.undone_at IS NULL
), changes AS (
    SELECT company_id, currency, issue_date AS day, payable_total AS open_change, 0 AS overdue_change FROM owed
    UNION ALL
    SELECT company_id, currency, due_date + 1, 0, payable_total FROM owed
    UNION ALL
    SELECT company_id, currency, day, -amount, 0 FROM settled
    UNION ALL
    SELECT company_id, currency, GREATEST(day, due_date + 1), 0, -amount FROM settled
), daily AS (
    SELECT company_id, currency, day, SUM(open_change) AS open_change, SUM(overdue_change) AS overdue_change
    FROM changes GROUP BY company_id, currency, day
)
SELECT company_id, currency, day,
       SUM(open_change) OVER running AS open_total,
       SUM(overdue_change) OVER running AS overdue_total
FROM daily
WINDOW running AS (PARTITION BY company_id, currency ORDER BY day);
CREATE UNIQUE INDEX dashboard_receivable_day_key ON dashboard_receivable_day (company_id, currency, day);
"""

# Purchases: costs (net of supplier invoices by their date) and, as a running total, what was to be
# paid within 30 days at the end of each day: an invoice counts from 30 days before its due date
# (or from its date, if later) until the day it was paid.
PURCHASE_DAY = """
CREATE MATERIALIZED VIEW dashboard_purchase_day AS
WITH booked AS (
    SELECT company_id, currency, invoice_date, paid_on, net_total, gross_total,
           GREATEST(invoice_date, due_date - 30) AS due_soon_from
    FROM finance_supplierinvoice
    WHERE status NOT IN ('draft', 'rejected')
), changes AS (
    SELECT company_id, currency, invoice_date AS day, net_total AS cost, 0 AS due_change FROM booked
    UNION ALL
    SELECT company_id, currency, due_soon_from, 0, gross_total FROM booked
    WHERE paid_on IS NULL OR paid_on > due_soon_from
    UNION ALL
    SELECT company_id, currency, paid_on, 0, -gross_total FROM booked
    WHERE paid_on > due_soon_from
), daily AS (
    SELECT company_id, currency, day, SUM(cost) AS cost_net, SUM(due_change) AS due_change
    FROM changes GROUP BY company_id, currency, day
)
SELECT company_id, currency, day, cost_net, SUM(due_change) OVER running AS due_30_total
FROM daily
WINDOW running AS (PARTITION BY company_id, currency ORDER BY day);
CREATE UNIQUE INDEX dashboard_purchase_day_key ON dashboard_purchase_day (company_id, currency, day);
"""

# Bank: what each account gained or lost per day (completed transactions), for balances in the past.
BANK_DAY = """
CREATE MATERIALIZED VIEW dashboard_bank_day AS
SELECT account_id, company_id, currency, (created_on_bank AT TIME ZONE 'Europe/Zurich')::date AS day,
       SUM(amount) AS net_change, SUM(LEAST(amount, 0)) AS outflow
FROM finance_banktransaction
WHERE state = 'completed'
GROUP BY account_id, company_id, currency, (created_on_bank AT TIME ZONE 'Europe/Zurich')::date;
CREATE UNIQUE INDEX dashboard_bank_day_key ON dashboard_bank_day (account_id, day);
CREATE INDEX dashboard_bank_day_company ON dashboard_bank_day (company_id, day);
"""

VIEWS = ["dashboard_sales_day", "dashboard_receivable_day", "dashboard_purchase_day", "dashboard_bank_day"]


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_figures"),
        ("finance", "0016_dunning"),
    ]

    operations = [
        migrations.RunSQL(sql, reverse_sql=f"DROP MATERIALIZED VIEW {name};")
        for sql, name in zip([SALES_DAY, RECEIVABLE_DAY, PURCHASE_DAY, BANK_DAY], VIEWS, strict=True)
    ]
