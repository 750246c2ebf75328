from django.db import migrations

# Directus writes these tables too, so two rules live in PostgreSQL:
# - a supplier's bank country is its IBAN's country, whoever saves the row;
# - an approval covers one payee IBAN, amount, currency and reference: an update changing any of
#   them on an approved or scheduled invoice sends it back to approval and clears the approver.
SUPPLIER_INVOICE_RULES = """
CREATE FUNCTION hv_supplier_bank_country() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.bank_country := upper(left(NEW.iban, 2));
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_supplier_bank_country
    BEFORE INSERT OR UPDATE OF iban, bank_country ON finance_supplier
    FOR EACH ROW EXECUTE FUNCTION hv_supplier_bank_country();

CREATE FUNCTION hv_supplier_invoice_approval_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('approved', 'scheduled') AND NEW.status = OLD.status
       AND (NEW.creditor_iban, NEW.gross_total, NEW.currency, NEW.payment_reference)
           IS DISTINCT FROM (OLD.creditor_iban, OLD.gross_total, OLD.currency, OLD.payment_reference)
    THEN
        NEW.status := 'to_approve';
        NEW.approved_by_id := NULL;
        NEW.approved_at := NULL;
        NEW.approval_fingerprint := '';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_supplierinvoice_approval_reset
    BEFORE UPDATE ON finance_supplierinvoice
    FOR EACH ROW EXECUTE FUNCTION hv_supplier_invoice_approval_reset();
"""

DROP_RULES = """
DROP TRIGGER IF EXISTS finance_supplierinvoice_approval_reset ON finance_supplierinvoice;
DROP FUNCTION IF EXISTS hv_supplier_invoice_approval_reset();
DROP TRIGGER IF EXISTS finance_supplier_bank_country ON finance_supplier;
DROP FUNCTION IF EXISTS hv_supplier_bank_country();
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0010_purchases_and_projects")]

    operations = [migrations.RunSQL(SUPPLIER_INVOICE_RULES, DROP_RULES)]
