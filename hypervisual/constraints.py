"""Model validation that asks PostgreSQL once about all of a model's check constraints."""

from contextlib import nullcontext

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import BooleanField, CheckConstraint, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE


class ChecksInOneQuery(models.Model):
    """`full_clean()` evaluates every CheckConstraint of the model in one SELECT.

    Django sends one query per constraint, inside a transaction each in a savepoint of its own: three statements
    per constraint, thirty for an invoice, on every validated write. The verdicts, their order, messages and codes
    stay Django's; the other constraints (unique) are validated as Django does.
    """

    class Meta:
        abstract = True

    def validate_constraints(self, exclude=None):
        using = router.db_for_write(type(self), instance=self)
        errors = {}
        for model_class, constraints in self.get_constraints():
            checks = [constraint for constraint in constraints if isinstance(constraint, CheckConstraint)]
            failed = _failed_checks(self, model_class, checks, exclude=exclude, using=using)
            for constraint in constraints:
                try:
                    if isinstance(constraint, CheckConstraint):
                        if constraint in failed:
                            raise ValidationError(constraint.get_violation_error_message(),
                                                  code=constraint.violation_error_code)  # fmt: skip
                    else:
                        constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as error:
                    if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                        errors.setdefault(constraint.fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


def _failed_checks(instance, model_class, checks, *, exclude, using) -> list[CheckConstraint]:
    """The constraints the instance's values break, asked in one query (Q.check's, one column per constraint)."""
    if not checks:
        return []
    against = instance._get_field_expression_map(meta=model_class._meta, exclude=exclude)
    query = Query(None)
    for name, value in against.items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    asked = []
    for constraint in checks:
        try:
            verdict = Coalesce(Q(constraint.condition), True, output_field=BooleanField())
            query.add_annotation(verdict, f"_check_{len(asked)}")
        except FieldError:
            continue  # it reads an excluded field: Django leaves it out too
        asked.append(constraint)
    if not asked:
        return []
    connection = connections[using]
    try:
        with transaction.atomic(using=using) if connection.in_atomic_block else nullcontext():
            verdicts = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError:
        # One condition the database cannot evaluate with these values: ask each alone, as Django does.
        return [constraint for constraint in asked if not Q(constraint.condition).check(against, using=using)]
    return [constraint for constraint, passed in zip(asked, verdicts, strict=True) if not passed]
