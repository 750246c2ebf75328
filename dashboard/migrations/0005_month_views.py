"""Month views over the day views of revenue and costs: a chart of 24 months reads 24 rows per company and
currency instead of 730 days. dashboard.figures refreshes each after the day view it sums.
"""

from django.db import migrations

SALES_MONTH = """
CREATE MATERIALIZED VIEW dashboard_sales_month AS
SELECT company_id, currency, date_trunc('month', day)::date AS month,
       SUM(invoiced_net) AS invoiced_net, SUM(credited_net) AS credited_net
FROM dashboard_sales_day
GROUP BY company_id, currency, date_trunc('month', day);
CREATE UNIQUE INDEX dashboard_sales_month_key ON dashboard_sales_month (company_id, currency, month);
"""

PURCHASE_MONTH = """
CREATE MATERIALIZED VIEW dashboard_purchase_month AS
SELECT company_id, currency, date_trunc('month', day)::date AS month, SUM(cost_net) AS cost_net
FROM dashboard_purchase_day
GROUP BY company_id, currency, date_trunc('month', day);
CREATE UNIQUE INDEX dashboard_purchase_month_key ON dashboard_purchase_month (company_id, currency, month);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0004_open_deposits_index"),
    ]

    operations = [
        migrations.RunSQL(SALES_MONTH, reverse_sql="DROP MATERIALIZED VIEW dashboard_sales_month;"),
        migrations.RunSQL(PURCHASE_MONTH, reverse_sql="DROP MATERIALIZED VIEW dashboard_purchase_month;"),
    ]
