"""The failed-login limit: at most `limit` failures in a sliding `period` per key
(one key per submitted email, one per client address). Pure: the caller passes
the failures it has and the time."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service_kit.kernel import DomainError


class TooManyAttempts(DomainError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed logins; retry later")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Window:
    limit: int
    period: timedelta

    def retry_after(self, failures: Iterable[datetime], now: datetime) -> int | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        recent = sorted(at for at in failures if at > now - self.period)
        if len(recent) < self.limit:
            return None
        # Allowed again once enough of the recent failures have left the window.
        frees_at = recent[len(recent) - self.limit] + self.period
        return max(1, math.ceil((frees_at - now).total_seconds()))


def check(windows: Iterable[tuple[Window, Iterable[datetime]]], now: datetime) -> None:
    """Refuse while any window is full, naming the longest wait."""
    waits = [w for window, failures in windows if (w := window.retry_after(failures, now))]
    if waits:
        raise TooManyAttempts(max(waits))
