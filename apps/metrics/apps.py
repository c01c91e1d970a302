from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "apps.metrics"
    label = "metrics"

    def ready(self) -> None:
        # SPEC G2: the lifecycle marks the board as changed (apps.conversations.events,
        # ``monitor_changed``); this app reads and pushes it, coalesced (apps.core.coalesce).
        from apps.conversations.events import MONITOR_TOPIC
        from apps.core import coalesce
        from apps.metrics.board import board_push

        coalesce.register(MONITOR_TOPIC, board_push)
