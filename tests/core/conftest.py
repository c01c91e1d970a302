import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts here are made and checked in this process only (see the root conftest)."""
