"""The routing groups pages (SPEC B2-B4, C1, G1; issue 9)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
