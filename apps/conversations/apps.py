from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"

    def ready(self) -> None:
        # The event catalogue declares the webhook event types (SPEC H4) when it is imported:
        # import it now, so that every process knows them before a request or a task needs them.
        from apps.conversations import events  # noqa: F401
        from apps.conversations.lifecycle import queue_news
        from apps.conversations.scrape import QueueLengthCollector
        from apps.core.metrics import register_collector

        register_collector(QueueLengthCollector)  # /metrics: the queue's length per shop (I7)
        queue_news.register()  # E1: queue.changed, coalesced (apps.core.coalesce)
