"""The routing and queue settings and business hours pages (SPEC B, C, D2, G1; issue 9)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
