from django.apps import AppConfig


class ShopdataConfig(AppConfig):
    name = "apps.shopdata"
    label = "shopdata"
