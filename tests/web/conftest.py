import pytest


@pytest.fixture(autouse=True)
def _fast_hashing(fast_password_hasher: None) -> None:
    """Every account of these tests is created and checked in this process."""
