from django.db import migrations

# Two writers share this database (DESIGN.md §3 rule 4): the Hub, and Directus or a script with SQL.
# What the Hub's services refuse, PostgreSQL refuses too, whoever writes:
#
# - an invoice's status follows its facts: out of draft, it only moves to what its payments (not undone)
#   and issued credit notes make it — the rule of `invoice_status_refresh` — so no UPDATE can cancel an
#   issued invoice or set a paid one back to issued; a draft is issued or cancelled, nothing else; a
#   credit note, once issued, keeps its status;
# - a document sequence only grows, and is never deleted (a number must never be given twice);
# - the audit log refuses TRUNCATE as it refuses UPDATE and DELETE (migration 0002);
# - a recorded payment and its allocations are never deleted nor truncated: undoing one is a recorded
#   reversal (`payment_undo` sets `undone_at`).
GUARDS = """
CREATE FUNCTION hv_invoice_status_of_facts(invoice_id bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    payable numeric;
    paid numeric;
    credited numeric;
BEGIN
    SELECT payable_total INTO payable FROM finance_invoice WHERE id = invoice_id;
    SELECT coalesce(sum(allocation.amount), 0) INTO paid
        FROM finance_paymentallocation allocation
        JOIN finance_payment payment ON payment.id = allocation.payment_id
        WHERE allocation.invoice_id = hv_invoice_status_of_facts.invoice_id AND payment.undone_at IS NULL;
    SELECT coalesce(sum(payable_total), 0) INTO credited FROM finance_invoice
        WHERE credited_invoice_id = hv_invoice_status_of_facts.invoice_id
          AND status NOT IN ('draft', 'cancelled');
    IF paid + credited >= payable THEN
        RETURN CASE WHEN paid > 0 THEN 'paid' ELSE 'cancelled' END;
    ELSIF paid > 0 THEN
        RETURN 'partially_paid';
    END IF;
    RETURN 'issued';
END;
$$;

CREATE FUNCTION hv_refuse_invoice_status_without_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted text;
BEGIN
    IF OLD.status = 'draft' THEN
        IF NEW.status NOT IN ('issued', 'cancelled') THEN
            RAISE EXCEPTION 'invoice % is a draft: it can be issued or cancelled, not set %', OLD.id, NEW.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.kind = 'credit_note' THEN
        RAISE EXCEPTION 'credit note % is issued: its status cannot change', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    wanted := hv_invoice_status_of_facts(OLD.id);
    IF NEW.status <> wanted THEN
        RAISE EXCEPTION 'invoice % cannot be %: its payments and credit notes make it %', OLD.number, NEW.status,
            wanted USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_invoice_status_follows_facts
    BEFORE UPDATE OF status ON finance_invoice
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION hv_refuse_invoice_status_without_facts();

CREATE FUNCTION hv_refuse_sequence_going_back() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'document sequence % % % cannot be deleted: its numbers would be given again',
            OLD.company_id, OLD.family, OLD.year USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.company_id, NEW.family, NEW.year) IS DISTINCT FROM (OLD.company_id, OLD.family, OLD.year)
       OR NEW.last_number < OLD.last_number THEN
        RAISE EXCEPTION 'document sequence % % % only grows: % refused after %', OLD.company_id, OLD.family,
            OLD.year, NEW.last_number, OLD.last_number USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER finance_documentsequence_only_grows
    BEFORE UPDATE OR DELETE ON finance_documentsequence
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_sequence_going_back();

CREATE TRIGGER finance_auditevent_no_truncate
    BEFORE TRUNCATE ON finance_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION hv_refuse_audit_change();

CREATE FUNCTION hv_refuse_payment_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is never deleted: undo the payment instead (a recorded reversal)', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER finance_payment_kept
    BEFORE DELETE ON finance_payment
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_payment_removal();
CREATE TRIGGER finance_payment_no_truncate
    BEFORE TRUNCATE ON finance_payment
    FOR EACH STATEMENT EXECUTE FUNCTION hv_refuse_payment_removal();
CREATE TRIGGER finance_paymentallocation_kept
    BEFORE DELETE ON finance_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_payment_removal();
CREATE TRIGGER finance_paymentallocation_no_truncate
    BEFORE TRUNCATE ON finance_paymentallocation
    FOR EACH STATEMENT EXECUTE FUNCTION hv_refuse_payment_removal();
"""

REMOVE_GUARDS = """
DROP TRIGGER IF EXISTS finance_paymentallocation_no_truncate ON finance_paymentallocation;
DROP TRIGGER IF EXISTS finance_paymentallocation_kept ON finance_paymentallocation;
DROP TRIGGER IF EXISTS finance_payment_no_truncate ON finance_payment;
DROP TRIGGER IF EXISTS finance_payment_kept ON finance_payment;
DROP FUNCTION IF EXISTS hv_refuse_payment_removal();
DROP TRIGGER IF EXISTS finance_auditevent_no_truncate ON finance_auditevent;
DROP TRIGGER IF EXISTS finance_documentsequence_only_grows ON finance_documentsequence;
DROP FUNCTION IF EXISTS hv_refuse_sequence_going_back();
DROP TRIGGER IF EXISTS finance_invoice_status_follows_facts ON finance_invoice;
DROP FUNCTION IF EXISTS hv_refuse_invoice_status_without_facts();
DROP FUNCTION IF EXISTS hv_invoice_status_of_facts(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0024_supplier_invoice_captures")]

    operations = [migrations.RunSQL(GUARDS, REMOVE_GUARDS)]
