"""What works without any order: signing up, the CSRF guard, every service's /docs
offline, the language switch, phone width."""

from selenium.webdriver.common.by import By

from testkit.launcher import ALL_SERVICES


def test_each_services_docs_list_its_operations_with_no_internet(system, site):
    browser = site()
    for spec in ALL_SERVICES:
        browser.driver.get(f"{system.url(spec.name)}/docs")
        operations = browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
        assert operations, spec.name
        if spec.name != "identity-service":  # the others take its bearer tokens
            assert browser.driver.find_elements(By.CSS_SELECTOR, ".btn.authorize"), spec.name
        browser.shot(f"docs-{spec.name}")


def test_a_form_posted_without_its_csrf_token_is_refused(site, tag):
    browser = site()
    browser.sign_up(f"csrf-{tag}@example.com", "customer")
    browser.open("/cart")
    # The person is signed in; a forged form (no token) posts to their session.
    browser.driver.execute_script(
        "const f = document.querySelector('form[action=\"/logout\"]');"
        "f.querySelector('[name=csrftoken]').remove(); f.submit();"
    )
    browser.wait(lambda d: "refused" in browser.text())
    assert "security token is missing" in browser.text()
    browser.shot("csrf-refused")
    browser.open("/cart")
    assert "Signed in as" in browser.text()  # the forged logout changed nothing


def test_pages_in_korean_and_a_single_column_at_phone_width(site, tag):
    browser = site()
    browser.sign_up(f"ko-{tag}@example.com", "rider", region=f"r{tag}")
    browser.shot("rider-offers")
    browser.find("a[lang=ko]").click()
    browser.wait(lambda d: "배달 요청" in browser.text())
    browser.driver.set_window_size(390, 844)
    browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#work section"))
    sections = browser.driver.find_elements(By.CSS_SELECTOR, "#work section")
    lefts = {s.location["x"] for s in sections}
    assert len(sections) == 2 and len(lefts) == 1  # stacked, not side by side
    browser.shot("rider-offers-ko-phone")
    browser.driver.set_window_size(1200, 900)
    browser.find("a[lang=en]").click()
