"""People in their own browsers: a customer orders and watches the status page move
without reloading while an owner and a rider act; cancel; a declined card; a 409 in
words; user text rendered as text."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from testkit.browser import Site

SCRIPT = "<script>window.pwned=1</script>"
LIFECYCLE = ["PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "DELIVERED"]


def open_store(site, tag: str, name: str | None = None, item: str = "Bibimbap") -> tuple[Site, str]:
    """An owner with a store in a region of its own (so tests never see each other's)."""
    owner = site()
    owner.sign_up(f"owner-{tag}@example.com", "owner")
    owner.register_store(f"s-{tag}", name or f"Hansik {tag}", f"r{tag}")
    owner.add_item(f"m-{tag}", item, 9000, 50)
    return owner, f"r{tag}"


def customer_orders(site, tag: str, region: str, store: str, card: str = "tok_ok") -> Site:
    customer = site()
    customer.sign_up(f"customer-{tag}@example.com", "customer")
    customer.order(region, store, quantity=2, card=card)
    return customer


def test_the_status_page_follows_the_order_live_while_owner_and_rider_act(site, tag):
    owner, region = open_store(site, tag)
    rider = site()
    rider.sign_up(f"rider-{tag}@example.com", "rider", region=region)
    customer = customer_orders(site, tag, region, f"Hansik {tag}")
    order_id = customer.order_id()
    customer.wait_status("PLACED")
    customer.shot("status-placed")
    # Set on this page only: still there at the end means it never reloaded.
    customer.driver.execute_script("window.sameStatusPage = true;")

    owner.open(f"/owner/stores/s-{tag}")
    owner.shot("owner-inbox")
    for status, words, after in [
        ("RECEIVED", "Accept", "ACCEPTED"),
        ("ACCEPTED", "Start cooking", "COOKING"),
        ("COOKING", "Finish cooking", "COOKED"),
    ]:
        owner.ticket_action(order_id, status, words)
        customer.wait_status(after)
    rider.open("/rider")
    rider.delivery_action(order_id, "offers", "Pick up")
    customer.wait_status("PICKED")
    rider.shot("rider-current-delivery")
    rider.delivery_action(order_id, "mine", "Confirm delivery")
    customer.wait_status("DELIVERED")

    timeline = customer.driver.find_elements(By.CSS_SELECTOR, "#timeline li")
    assert [li.get_attribute("data-status") for li in timeline] == LIFECYCLE
    assert customer.find("[role=status]").text == "Delivered"
    assert customer.driver.execute_script("return window.sameStatusPage === true;")
    assert len(customer.driver.find_elements(By.CSS_SELECTOR, "[role=status]")) == 1
    customer.shot("status-delivered")
    customer.open("/notifications")
    customer.wait(lambda d: "No messages yet." not in customer.text())
    customer.shot("notifications")


def test_a_customer_cancels_before_cooking(site, tag):
    _, region = open_store(site, tag)
    customer = customer_orders(site, tag, region, f"Hansik {tag}")
    customer.order_id()
    customer.wait_status("PLACED")

    customer.press("Cancel order")

    customer.wait(lambda d: "Your order is cancelled." in customer.messages())
    customer.wait_status("CANCELLED")
    assert not customer.driver.find_elements(By.XPATH, "//button[.='Cancel order']")
    customer.shot("status-cancelled")


def test_a_declined_card_shows_its_refusal_and_places_nothing(site, tag):
    _, region = open_store(site, tag)
    customer = customer_orders(site, tag, region, f"Hansik {tag}", card="tok_declined")

    customer.wait(lambda d: "Payment refused" in customer.messages())
    assert customer.driver.current_url.endswith("/orders")
    customer.shot("cart-card-declined")
    customer.open("/orders")
    assert "No orders yet." in customer.text()


def test_a_409_from_the_service_is_a_message_on_the_page(site, tag):
    owner, region = open_store(site, tag)
    customer = customer_orders(site, tag, region, f"Hansik {tag}")
    order_id = customer.order_id()
    customer.wait_status("PLACED")
    customer.open("/orders")  # not live: its "Cancel order" goes stale
    customer.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-order='{order_id}']"))
    customer.shot("my-orders")

    owner.open(f"/owner/stores/s-{tag}")
    owner.ticket_action(order_id, "RECEIVED", "Accept")
    owner.ticket_action(order_id, "ACCEPTED", "Start cooking")
    owner.ticket(order_id, "COOKING")
    customer.press("Cancel order", customer.find(f"tr[data-order='{order_id}']"))

    customer.wait(lambda d: "cooking has already started" in customer.messages())
    assert "Refused:" in customer.messages()
    customer.shot("cancel-refused-409")


def test_script_in_a_store_name_item_name_and_reject_reason_renders_as_text(site, tag):
    owner, region = open_store(site, tag, name=f"{SCRIPT} {tag}", item=SCRIPT)
    customer = customer_orders(site, tag, region, f"{SCRIPT} {tag}")
    order_id = customer.order_id()
    assert customer.driver.execute_script("return window.pwned === undefined;")

    owner.open(f"/owner/stores/s-{tag}")
    owner.reject(order_id, SCRIPT)
    rejected = owner.ticket(order_id, "REJECTED")

    assert SCRIPT in rejected.find_element(By.CSS_SELECTOR, ".reason").text
    assert SCRIPT in owner.find("#store-name").text
    assert SCRIPT in owner.find("#menu .item-name").text
    assert owner.driver.execute_script("return window.pwned === undefined;")
    owner.shot("owner-inbox-escaped")
    customer.wait_status("REJECTED")
    assert customer.driver.execute_script("return window.pwned === undefined;")
