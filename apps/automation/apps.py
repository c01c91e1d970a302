from django.apps import AppConfig


class AutomationConfig(AppConfig):
    """Automatic replies and timeouts (SPEC D1-D6) and the periodic jobs that run them."""

    name = "apps.automation"
    label = "automation"
