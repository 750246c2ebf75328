from django.db import migrations

# A filed VAT return closes its period, whoever writes (DESIGN.md §3 rule 4): no invoice leaves draft with an
# issue date inside it, and a filed return is never changed nor deleted.
GUARDS = """
CREATE FUNCTION hv_refuse_issue_in_filed_vat_period() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' AND NEW.status <> 'draft' AND NEW.status <> 'cancelled' AND EXISTS (
        SELECT 1 FROM finance_vatreturn
        WHERE company_id = NEW.company_id AND NEW.issue_date BETWEEN period_start AND period_end
    ) THEN
        RAISE EXCEPTION 'invoice %: % lies in a filed VAT period', NEW.id, NEW.issue_date
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_invoice_vat_period_open BEFORE UPDATE OF status ON finance_invoice
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_issue_in_filed_vat_period();

CREATE FUNCTION hv_refuse_vat_return_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a filed VAT return is kept as filed' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER finance_vatreturn_kept BEFORE UPDATE OR DELETE ON finance_vatreturn
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_vat_return_change();
"""

DROP = """
DROP TRIGGER finance_vatreturn_kept ON finance_vatreturn;
DROP FUNCTION hv_refuse_vat_return_change();
DROP TRIGGER finance_invoice_vat_period_open ON finance_invoice;
DROP FUNCTION hv_refuse_issue_in_filed_vat_period();
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0027_vat_return_settings")]

    operations = [migrations.RunSQL(GUARDS, DROP)]
