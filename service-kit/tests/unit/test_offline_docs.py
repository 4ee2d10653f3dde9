"""`/docs` loads nothing from the internet: every asset comes from the service."""

import re

import httpx

from service_kit.http import offline_app


async def test_docs_page_and_its_assets_are_served_by_the_service_itself():
    app = offline_app(title="svc")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        page = await client.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = [await client.get(url) for url in assets]
        redirect = await client.get("/docs/oauth2-redirect")

    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.text
    assert assets and all(url.startswith("/static-offline-docs/") for url in assets)
    assert not re.search(r"https?://", page.text.split("<script>")[0])  # no CDN
    assert [r.status_code for r in fetched] == [200] * len(assets)
    assert redirect.status_code == 200
