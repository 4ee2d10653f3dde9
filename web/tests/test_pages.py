"""The web app against fake services: sessions, CSRF, refusals in plain words,
escaping, token refresh, languages."""

import re

import httpx

from web.i18n import LANGUAGES, LOCALES_DIR, extract, translations

from .fakes import FakeServices


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


async def log_in(browser: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await browser.get("/login")
    return await browser.post(
        "/login",
        data={"csrftoken": csrf(form), "email": email, "password": "right-password"},
    )


async def test_logging_in_keeps_only_a_signed_session_id_in_an_httponly_lax_cookie(browser):
    response = await log_in(browser, "cu@example.com")

    assert response.status_code == 303
    assert response.headers["location"] == "/stores"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "cu@example.com" not in cookie and "refresh" not in cookie
    page = await browser.get("/stores")
    assert "Signed in as cu@example.com" in page.text


async def test_a_wrong_password_is_a_message_not_a_session(browser):
    form = await browser.get("/login")
    response = await browser.post(
        "/login", data={"csrftoken": csrf(form), "email": "cu@example.com", "password": "no"}
    )

    assert response.status_code == 400
    assert "Wrong email or password." in response.text
    assert (await browser.get("/orders")).headers["location"] == "/login"


async def test_a_form_posted_without_its_csrf_token_is_refused_and_calls_nothing(
    browser, services: FakeServices
):
    await log_in(browser, "cu@example.com")
    calls = len(services.calls)

    response = await browser.post("/orders/o-1/cancel", data={})
    forged = await browser.post("/orders/o-1/cancel", data={"csrftoken": "forged"})

    assert response.status_code == 403 and forged.status_code == 403
    assert "security token" in response.text
    assert len(services.calls) == calls


async def test_a_409_from_the_service_is_shown_on_the_page_in_its_words(
    browser, services: FakeServices
):
    services.answers[("DELETE", "/orders/o-1")] = (
        409,
        {"detail": "order o-1 can no longer be cancelled: cooking has already started"},
    )
    services.answers[("GET", "/mypage/orders/o-1")] = (200, view("COOKING"))
    await log_in(browser, "cu@example.com")
    page = await browser.get("/orders/o-1")

    response = await browser.post(
        "/orders/o-1/cancel", data={"csrftoken": csrf(page)}, follow_redirects=True
    )

    assert response.status_code == 200
    assert "Refused: order o-1 can no longer be cancelled: cooking has already started" in (
        response.text
    )
    assert ("DELETE", "/orders/o-1", "cu@example.com#0") in services.calls


def view(status: str) -> dict:
    return {
        "order_id": "o-1",
        "customer_id": "cu-1",
        "store_id": "s-1",
        "status": status,
        "total_amount": 18000,
        "items": [],
        "timeline": [{"status": "PLACED", "at": "2026-11-29T12:00:00+00:00", "event_type": "x"}],
    }


async def test_the_status_page_names_the_status_for_machines_and_people(
    browser, services: FakeServices
):
    services.answers[("GET", "/mypage/orders/o-1")] = (200, view("ACCEPTED"))
    await log_in(browser, "cu@example.com")

    page = (await browser.get("/orders/o-1")).text

    assert len(re.findall(r'role="status"', page)) == 1
    assert re.search(
        r'role="status" id="status" data-status="ACCEPTED">Accepted by the store<', page
    )
    assert '<li data-status="PLACED">' in page
    assert "Cancel order" in page  # ACCEPTED: the board still lets the customer cancel
    assert 'sse-connect="/orders/o-1/events"' in page


async def test_user_text_is_escaped_in_names_and_reasons(browser, services: FakeServices):
    evil = "<script>alert(1)</script>"
    services.answers[("GET", "/stores/s-1/menu")] = (
        200,
        {
            "store_id": "s-1",
            "name": evil,
            "region": "gangnam",
            "items": [
                {"item_id": "m1", "name": evil, "price": 9000, "stock": 0, "available": False}
            ],
        },
    )
    services.answers[("GET", "/stores/s-1/orders")] = (
        200,
        {
            "store_id": "s-1",
            "orders": [
                {
                    "order_id": "o-1",
                    "store_id": "s-1",
                    "status": "REJECTED",
                    "reason": evil,
                    "items": [],
                    "total_amount": 1,
                    "updated_at": "2026-11-29T12:00:00+00:00",
                }
            ],
        },
    )
    await log_in(browser, "cu@example.com")
    menu = (await browser.get("/stores/s-1")).text
    await browser.post("/logout", data={"csrftoken": csrf(await browser.get("/stores"))})
    await log_in(browser, "ow@example.com")
    inbox = (await browser.get("/owner/stores/s-1/inbox")).text

    for page in (menu, inbox):
        assert evil not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sold out" in menu


async def test_an_expired_token_is_refreshed_once_and_the_call_retried(
    browser, services: FakeServices
):
    services.answers[("GET", "/mypage/customers/cu-1/orders")] = (200, {"orders": []})
    await log_in(browser, "cu@example.com")
    services.expired.add("cu@example.com#0")

    page = await browser.get("/orders")

    assert page.status_code == 200 and "No orders yet." in page.text
    assert services.refreshes == 1
    assert services.service_calls()[-1] == (
        "GET",
        "/mypage/customers/cu-1/orders",
        "cu@example.com#1",
    )


async def test_a_page_for_another_role_is_refused(browser):
    await log_in(browser, "ri@example.com")

    assert (await browser.get("/owner")).status_code == 403
    assert (await browser.get("/stores")).status_code == 403


async def test_korean_from_accept_language_and_the_switch_on_the_page(browser):
    korean = await browser.get("/login", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert "로그인" in korean.text and '<html lang="ko">' in korean.text

    switched = await browser.get("/lang/en?next=/login")
    english = await browser.get("/login", headers={"Accept-Language": "ko-KR"})

    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert '<html lang="en">' in english.text and "Log in" in english.text
    assert (await browser.get("/lang/en?next=//evil.example")).headers["location"] == "/"


def test_every_message_has_a_korean_translation_and_the_catalogs_match_the_code():
    from babel.messages.pofile import read_po

    wanted = extract()
    for language in LANGUAGES:
        with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        assert {m.id for m in catalog if m.id} == wanted, language
    for message in wanted:
        assert translations("ko").gettext(message) != message or message == "", message


async def test_the_inbox_shows_the_time_left_to_accept_when_tickets_carry_it(
    browser, services: FakeServices
):
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(seconds=120)).isoformat()
    ticket = {
        "order_id": "o-1",
        "store_id": "s-1",
        "status": "RECEIVED",
        "reason": None,
        "items": [],
        "total_amount": 1,
        "updated_at": soon,
        "accept_by": soon,
    }
    services.answers[("GET", "/stores/s-1/orders")] = (200, {"orders": [ticket]})
    await log_in(browser, "ow@example.com")

    inbox = (await browser.get("/owner/stores/s-1/inbox")).text

    left = re.search(r"(\d+) s left to accept", inbox)
    assert left and 100 <= int(left.group(1)) <= 120
    assert ">Accept</button>" in inbox and ">Reject</button>" in inbox


async def test_a_rider_sees_what_they_picked_as_their_current_delivery(
    browser, services: FakeServices
):
    delivery = {
        "order_id": "o-1",
        "status": "PICKED",
        "region": "gangnam",
        "store_id": "s-1",
        "rider_id": "ri-1",
        "updated_at": "2026-11-29T12:00:00+00:00",
        "address_line": "12 Teheran-ro",
    }
    services.answers[("GET", "/deliveries")] = (200, {"deliveries": []})
    services.answers[("PUT", "/deliveries/o-1/pick")] = (200, delivery)
    services.answers[("GET", "/deliveries/o-1")] = (200, delivery)
    await log_in(browser, "ri@example.com")
    page = await browser.get("/rider")

    picked = await browser.post(
        "/rider/deliveries/o-1/pick", data={"csrftoken": csrf(page)}, follow_redirects=True
    )
    work = (await browser.get("/rider/work")).text

    assert "Picked up." in picked.text
    assert '<li data-order="o-1" data-status="PICKED">' in work
    assert ">Confirm delivery</button>" in work and ">Return</button>" in work
    assert ("GET", "/deliveries", "ri@example.com#0") in services.calls
