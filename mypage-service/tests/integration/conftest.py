"""Fixtures of mypage's integration tests.

mypage-service/tests has no __init__.py on purpose: with --import-mode=importlib
pytest then names each test module by its path, so these never collide with the
other services' same-named `tests` packages (tests.unit.test_handlers, ...).
"""

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend; PostgreSQL gets a database of its
    own so these tests never touch the one a local run of the service uses."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'mypage.db'}"
    return request.getfixturevalue("postgres").reset("mypage_service_test")
