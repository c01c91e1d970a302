"""Helpers for tests, importable by every app's tests (never imported by application code)."""
