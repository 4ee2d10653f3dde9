import pytest

from service_kit.db import create_engine, session_factory
from service_kit.tables import plumbing_metadata


@pytest.fixture
async def outbox_sessions(tmp_path):
    """Sessions on a fresh SQLite file with the plumbing tables (outbox, inbox)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(plumbing_metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()
