"""Settings of the Kitchen context beyond the ones every service has."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_ACCEPTANCE_WINDOW = timedelta(seconds=300)


class InvalidSetting(ValueError):
    pass


@dataclass(frozen=True)
class KitchenSettings:
    # How long a placed ticket waits for its owner before it is rejected. Read once
    # at start; each ticket stores its own deadline, so a change moves no existing one.
    acceptance_window: timedelta = DEFAULT_ACCEPTANCE_WINDOW

    @classmethod
    def from_env(cls) -> KitchenSettings:
        raw = os.environ.get("ACCEPTANCE_WINDOW_S", "").strip()
        if not raw:
            return cls()
        try:
            seconds = float(raw)
        except ValueError:
            raise InvalidSetting(f"ACCEPTANCE_WINDOW_S is not a number: {raw!r}") from None
        if not 0 < seconds <= 86_400:
            raise InvalidSetting(f"ACCEPTANCE_WINDOW_S must be in (0, 86400] seconds: {raw!r}")
        return cls(timedelta(seconds=seconds))
