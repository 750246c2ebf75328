from django.db import migrations

# The audit log is evidence: PostgreSQL itself refuses to change or remove a row,
# whichever writer (Django, Directus, psql) tries.
APPEND_ONLY = """
CREATE FUNCTION hv_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'finance_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER finance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON finance_auditevent
    FOR EACH ROW EXECUTE FUNCTION hv_refuse_audit_change();
"""

REMOVE_APPEND_ONLY = """
DROP TRIGGER IF EXISTS finance_auditevent_append_only ON finance_auditevent;
DROP FUNCTION IF EXISTS hv_refuse_audit_change();
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]

    operations = [migrations.RunSQL(APPEND_ONLY, REMOVE_APPEND_ONLY)]
