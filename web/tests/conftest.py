from collections.abc import AsyncIterator

import httpx
import pytest

from web.app import create_app
from web.settings import WebSettings

from .fakes import FakeServices, FakeVerifier


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
async def browser(services: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    """A client keeping cookies like a browser, talking to the web app."""
    app = create_app(WebSettings(secret="test-secret"), FakeVerifier(), services.transport())
    inner = app.__wrapped__  # type: ignore[attr-defined]  # the FastAPI app inside the CSRF layer
    async with inner.router.lifespan_context(inner):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            yield client
