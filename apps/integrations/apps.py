from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"

    def ready(self) -> None:
        from apps.core.metrics import register_collector
        from apps.integrations.scrape import WebhookCollector

        register_collector(WebhookCollector)  # /metrics: webhook failures per shop (I7)
