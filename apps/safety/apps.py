from django.apps import AppConfig


class SafetyConfig(AppConfig):
    """SPEC I6: sensitive words, the buyer block list, the per-buyer message rate and the
    masking of buyers' personal information (docs/safety.md)."""

    name = "apps.safety"
    label = "safety"
