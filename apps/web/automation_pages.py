"""The automatic replies, silence timeouts, private contacts and intent rules pages
(SPEC D, B8, B5, G1; issue 9)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
