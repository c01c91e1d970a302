"""The staff token in the OpenAPI schema (imported by the URL patterns, which registers it)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.StaffTokenAuthentication"
    name = "StaffToken"
    priority = 1  # before drf-spectacular's own scheme for TokenAuthentication subclasses

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`, the token from `POST /api/v1/auth/token/`.",
        }
