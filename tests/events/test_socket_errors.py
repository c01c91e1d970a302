"""The one mapping of errors to socket ``error`` frames (API.md, WebSockets; STYLE 9), without
DRF: the shapes are those of the REST errors."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.core.errors import InvalidFields, InvalidInput, NotFound
from apps.events.consumers import socket_error


def test_a_domain_error_names_its_code_and_field():
    assert socket_error(InvalidInput("Too long.", field="body")) == {
        "code": "invalid",
        "errors": {"body": ["Too long."]},
    }
    assert socket_error(NotFound("No such conversation.")) == {
        "code": "not_found",
        "detail": "No such conversation.",
    }


def test_errors_on_several_fields_keep_each_field():
    assert socket_error(InvalidFields({"a": ["x"], "b": ["y", "z"]})) == {
        "code": "invalid",
        "errors": {"a": ["x"], "b": ["y", "z"]},
    }


def test_a_django_validation_error_answers_like_the_rest_api():
    assert socket_error(ValidationError({"body": ["Required."]})) == {
        "code": "invalid",
        "errors": {"body": ["Required."]},
    }
    assert socket_error(ValidationError(["One.", "Two."])) == {
        "code": "invalid",
        "detail": "One. Two.",
    }


def test_anything_else_is_an_internal_error_that_says_nothing_changed():
    frame = socket_error(RuntimeError("secret detail"))
    assert frame["code"] == "internal" and "secret" not in frame["detail"]
