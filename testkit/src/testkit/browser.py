"""People in headless Chromium (Debian's `chromium` and `chromium-driver`, never a
download): one `Site` per person's browser on the web app, acting in the words of its
pages (labels and button texts). The browser tests and bench/web_status.py use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
# Polled parts of a page (the inbox, the offers) are replaced every 2 s: an element
# found a moment ago may be gone, so conditions and actions are retried until a deadline.
REPLACED = (NoSuchElementException, StaleElementReferenceException)
WAIT_S = 60.0  # the shared CPU is slow at times; a deadline, never a sleep


def chromium() -> webdriver.Chrome:
    """A fresh headless browser (own cookies): one per person."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,900",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Site:
    def __init__(self, driver: webdriver.Chrome, url: str, screenshots: Path) -> None:
        self.driver = driver
        self.url = url
        self.screenshots = screenshots

    # --- looking ------------------------------------------------------------------
    def open(self, path: str) -> None:
        self.driver.get(f"{self.url}{path}")

    def wait(self, condition: Callable[[webdriver.Chrome], Any], timeout: float = WAIT_S) -> Any:
        waiting = WebDriverWait(
            self.driver, timeout, poll_frequency=0.05, ignored_exceptions=REPLACED
        )

        def looked(driver: webdriver.Chrome) -> Any:
            try:
                return condition(driver)
            except WebDriverException as exc:
                # chromedriver reports a node that htmx swapped out between finding it
                # and reading it as an "unknown error", not a stale element: look again.
                if "does not belong to the document" in (exc.msg or ""):
                    return False
                raise

        return waiting.until(looked)

    def act(self, action: Callable[[], Any]) -> None:
        """Do `action`, again if the part of the page it used was replaced meanwhile."""

        def done(_: webdriver.Chrome) -> bool:
            action()
            return True

        self.wait(done)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return self.find("body").text

    def messages(self) -> str:
        return self.find("#messages").text

    def shot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def field(self, label: str, value: str, form: WebElement | None = None) -> None:
        """Type into the input whose <label> says `label`."""
        scope = form or self.driver
        target = scope.find_element(By.XPATH, f".//label[normalize-space()='{label}']")
        element = self.driver.find_element(By.ID, target.get_attribute("for"))
        element.clear()
        element.send_keys(value)

    def press(self, words: str, within: WebElement | None = None) -> None:
        scope = within or self.driver
        scope.find_element(By.XPATH, f".//button[normalize-space()='{words}']").click()

    # --- everyone -----------------------------------------------------------------
    def sign_up(self, email: str, role: str, region: str | None = None) -> None:
        self.open("/signup")
        self.field("Name", email.split("@")[0])
        self.field("Email", email)
        self.field("Password", PASSWORD)
        self.find(f"#role-{role}").click()
        if region:
            self.field("Region (riders: where you deliver)", region)
        self.press("Sign up")
        self.wait(lambda d: "Signed in as" in self.text())

    # --- owner --------------------------------------------------------------------
    def register_store(self, store_id: str, name: str, region: str) -> None:
        self.open("/owner")
        form = self.find("form[action='/owner/stores']")
        self.field("Store id", store_id, form)
        self.field("Store name", name, form)
        self.field("Region", region, form)
        self.press("Register store")
        self.wait(lambda d: d.current_url.endswith(f"/owner/stores/{store_id}"))

    def add_item(self, item_id: str, name: str, price: int, stock: int) -> None:
        self.field("Item id", item_id)
        self.field("Item name", name)
        form = self.find("#item_id").find_element(By.XPATH, "./ancestor::form")
        self.field("Price (won)", str(price), form)
        self.field("Stock", str(stock), form)
        self.press("Add item")
        self.wait(lambda d: "The menu is saved." in self.messages())

    def ticket(self, order_id: str, status: str) -> WebElement:
        """Wait for the order's ticket in the live inbox to show `status`."""
        css = f"#inbox li[data-order='{order_id}'][data-status='{status}']"
        return self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css))[0]

    def ticket_action(self, order_id: str, status: str, words: str) -> None:
        self.act(lambda: self.press(words, self.ticket(order_id, status)))

    def reject(self, order_id: str, reason: str) -> None:
        def fill_and_press() -> None:
            ticket = self.ticket(order_id, "RECEIVED")
            self.field("Reason for rejecting", reason, ticket)
            self.press("Reject", ticket)

        self.act(fill_and_press)

    # --- customer -----------------------------------------------------------------
    def order(self, region: str, store_name: str, quantity: int = 1, card: str = "tok_ok") -> None:
        self.open(f"/stores?region={region}")
        self.wait(lambda d: d.find_elements(By.LINK_TEXT, store_name))[0].click()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=number]"))
        quantity_input = self.find("input[type=number]")
        quantity_input.clear()
        quantity_input.send_keys(str(quantity))
        self.press("Add to cart")
        self.wait(lambda d: d.current_url.endswith("/cart"))
        self.field("Address", "12 Teheran-ro")
        self.field("Region", region)
        self.field("Phone", "010-1234-5678")
        Select(self.find("#card_token")).select_by_value(card)
        self.press("Place order")

    def order_id(self) -> str:
        self.wait(lambda d: "/orders/" in d.current_url)
        return self.driver.current_url.rsplit("/", 1)[1]

    def status(self) -> str:
        return self.find("[role=status]").get_attribute("data-status") or ""

    def wait_status(self, status: str) -> None:
        self.wait(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"[role=status][data-status='{status}']")
        )

    # --- rider --------------------------------------------------------------------
    def delivery(self, order_id: str, where: str) -> WebElement:
        css = f"#{where} li[data-order='{order_id}']"
        return self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css))[0]

    def delivery_action(self, order_id: str, where: str, words: str) -> None:
        self.act(lambda: self.press(words, self.delivery(order_id, where)))
