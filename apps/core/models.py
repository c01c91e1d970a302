from __future__ import annotations

from django.db import models


class ShopOwned(models.Model):
    """Base of every model that belongs to a shop (SPEC A1): the tenant is always on the row."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
