from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Provider emulators (DESIGN.md §7): installed, and their URLs mounted, only when HV_SANDBOX is on.

    Outside the product's import graph: the sandbox imports the Hub's HTTP client, the Hub never imports it.
    """

    name = "sandbox"
    label = "sandbox"
    verbose_name = "Provider sandboxes"
