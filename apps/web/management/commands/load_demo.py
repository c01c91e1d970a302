from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.web.demo import load_demo


class Command(BaseCommand):
    help = "Create or refresh the demo shop (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        shop = load_demo()
        self.stdout.write(f"Demo shop '{shop.slug}' is ready.")
