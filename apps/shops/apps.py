from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "apps.shops"
    label = "shops"
