from django.apps import AppConfig


class QuickrepliesConfig(AppConfig):
    name = "apps.quickreplies"
    label = "quickreplies"
