"""Error text fit for a log, a dead-letter header or a report.

Database errors quote their statement and its bound parameters (a phone number,
an address) after the first line or behind these markers; none of that may leave
the process. Payloads never go into error text either: only the error's own words.
"""

from __future__ import annotations

import traceback

_SECRETS_FROM = ("[SQL:", "[parameters:", "DETAIL:")


def redact(text: str) -> str:
    """The first line of `text`, cut before anything that may quote SQL parameters."""
    first = text.splitlines()[0] if text else ""
    for marker in _SECRETS_FROM:
        first = first.split(marker, 1)[0]
    return first.strip()


def describe(error: BaseException, *, where: bool = True, limit: int = 2000) -> str:
    """`<Type>: <redacted message>`, with ` at <file>:<line>` of the last frame when
    `where`: that says where it failed without dumping any data."""
    frames = traceback.extract_tb(error.__traceback__) if where else []
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {redact(str(error))}{at}"[:limit]
