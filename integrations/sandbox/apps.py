from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Provider emulators (DESIGN.md §7); their URLs are mounted only when HV_SANDBOX is on."""

    name = "integrations.sandbox"
    label = "sandbox"
    verbose_name = "Provider sandboxes"
