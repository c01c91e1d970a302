from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core import logs
        from apps.core.db import cache_long_statements, use_c_timestamp_loader

        cache_long_statements()
        use_c_timestamp_loader()
        logs.install()
