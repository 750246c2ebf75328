"""What the commands connecting the demo group to the sandboxes share."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError

from finance.models import Role


def demo_ceo() -> AbstractBaseUser:
    """The CEO who connects the sandboxes, as a person would on the Integrations page; refuses without sandboxes."""
    if not settings.HV_SANDBOX:
        raise CommandError("The sandboxes are off (HV_SANDBOX=0): nothing to connect to.")
    ceo = get_user_model().objects.filter(memberships__role=Role.CEO).order_by("pk").first()
    if ceo is None:
        raise CommandError("No CEO user: seed the demo group first (python manage.py seed_demo).")
    return ceo
