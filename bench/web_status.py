"""The status page, measured in the browser against a running system (`make run`):

    uv run python bench/web_status.py --web http://127.0.0.1:8080 --orders 20

- accept-to-status: for each of N orders, the time from the owner's click on "Accept"
  (owner's browser) to the customer's status page showing ACCEPTED (customer's
  browser, a MutationObserver on the `role=status` element; both read the same clock);
- weight: the status page's requests and bytes (Resource Timing: the document, its
  CSS and scripts; the event stream stays open and is counted as one request).

Prints the figures and writes a JSON report to .local/reports/ (or --report-dir).
"""

from __future__ import annotations

import argparse
import json
import statistics
import uuid
from datetime import UTC, datetime
from pathlib import Path

from selenium.webdriver.common.by import By

from testkit.browser import Site, chromium
from testkit.reports import write_report

WATCH_ACCEPTED = """
window.acceptedAt = null;
new MutationObserver(() => {
  const s = document.querySelector('[role=status]');
  if (s && s.dataset.status === 'ACCEPTED' && window.acceptedAt === null) {
    window.acceptedAt = Date.now();
  }
}).observe(document.body, {subtree: true, childList: true, attributes: true});
"""
CLICK_ACCEPT = """
const button = [...arguments[0].querySelectorAll('button')]
  .find(b => b.textContent.trim() === 'Accept');
const at = Date.now(); button.click(); return at;
"""
WEIGHT = """
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const all = [nav, ...resources];
return {requests: all.length,
        transfer_bytes: all.reduce((n, e) => n + (e.transferSize || 0), 0),
        decoded_bytes: all.reduce((n, e) => n + (e.decodedBodySize || 0), 0),
        resources: resources.map(e => [e.name.replace(location.origin, ''), e.transferSize])};
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", default="http://127.0.0.1:8080")
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--report-dir", type=Path, default=None)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    region, store = f"r{tag}", f"s-{tag}"
    owner, customer = Site(chromium(), args.web, Path()), Site(chromium(), args.web, Path())
    try:
        owner.sign_up(f"owner-{tag}@example.com", "owner")
        owner.register_store(store, f"Bench {tag}", region)
        owner.add_item(f"m-{tag}", "Bibimbap", 9000, 10_000)
        customer.sign_up(f"customer-{tag}@example.com", "customer")
        owner.open(f"/owner/stores/{store}")

        latencies, weight = [], None
        for _ in range(args.orders):
            customer.order(region, f"Bench {tag}")
            order_id = customer.order_id()
            customer.wait_status("PLACED")
            if weight is None:
                weight = customer.driver.execute_script(WEIGHT)
            customer.driver.execute_script(WATCH_ACCEPTED)
            ticket = owner.ticket(order_id, "RECEIVED")
            clicked = owner.driver.execute_script(CLICK_ACCEPT, ticket)
            shown = customer.wait(lambda d: d.execute_script("return window.acceptedAt;"))
            latencies.append(shown - clicked)
            owner.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#inbox"))
    finally:
        owner.driver.quit()
        customer.driver.quit()

    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "orders": args.orders,
        "accept_to_status_ms": {
            "median": statistics.median(latencies),
            "min": min(latencies),
            "max": max(latencies),
            "all": latencies,
        },
        "status_page_weight": weight,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "status_page_weight"}, indent=2))
    print(json.dumps({k: v for k, v in (weight or {}).items() if k != "resources"}))
    path = write_report("web-status", result, args.report_dir)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
