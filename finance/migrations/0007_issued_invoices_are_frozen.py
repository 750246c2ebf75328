from django.db import migrations

# Issued invoices are legal documents: once out of draft, PostgreSQL itself refuses any change to
# what was issued (only the status moves, as payments and credit notes settle it), refuses their
# deletion, and refuses any change to their lines. Directus and psql are held to it like Django.
FREEZE_ISSUED_INVOICES = """
CREATE FUNCTION hv_refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'invoice % is issued: it cannot be deleted, issue a credit note', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status = 'draft'
       OR (NEW.number, NEW.company_id, NEW.client_id, NEW.quote_id, NEW.credited_invoice_id, NEW.kind,
           NEW.title, NEW.issue_date, NEW.due_date, NEW.currency, NEW.qr_reference, NEW.net_total,
           NEW.vat_total, NEW.gross_total, NEW.rounding, NEW.payable_total, NEW.issued_at, NEW.created_by_id)
          IS DISTINCT FROM
          (OLD.number, OLD.company_id, OLD.client_id, OLD.quote_id, OLD.credited_invoice_id, OLD.kind,
           OLD.title, OLD.issue_date, OLD.due_date, OLD.currency, OLD.qr_reference, OLD.net_total,
           OLD.vat_total, OLD.gross_total, OLD.rounding, OLD.payable_total, OLD.issued_at, OLD.created_by_id)
    THEN
        RAISE EXCEPTION 'invoice % is issued: only its status may change', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_invoice_frozen_once_issued
    BEFORE UPDATE OR DELETE ON finance_invoice
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_issued_invoice_change();

CREATE FUNCTION hv_refuse_issued_invoice_line_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_status text;
    parent_number text;
BEGIN
    SELECT status, number INTO parent_status, parent_number FROM finance_invoice
        WHERE id IN (CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END,
                     CASE WHEN TG_OP = 'INSERT' THEN NEW.invoice_id ELSE OLD.invoice_id END)
          AND status <> 'draft'
        LIMIT 1;
    IF parent_status IS NOT NULL THEN
        RAISE EXCEPTION 'invoice % is issued: its lines cannot change', parent_number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
CREATE TRIGGER finance_invoiceline_frozen_once_issued
    BEFORE INSERT OR UPDATE OR DELETE ON finance_invoiceline
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_issued_invoice_line_change();
"""

THAW = """
DROP TRIGGER IF EXISTS finance_invoiceline_frozen_once_issued ON finance_invoiceline;
DROP FUNCTION IF EXISTS hv_refuse_issued_invoice_line_change();
DROP TRIGGER IF EXISTS finance_invoice_frozen_once_issued ON finance_invoice;
DROP FUNCTION IF EXISTS hv_refuse_issued_invoice_change();
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0006_sales_documents")]

    operations = [migrations.RunSQL(FREEZE_ISSUED_INVOICES, THAW)]
