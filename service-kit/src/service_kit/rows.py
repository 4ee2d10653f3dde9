"""The read side's rows: a view selects the columns its response model names and
answers each row as a dict, times as ISO 8601 text (what `http.Timestamp` documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Row, Table


def columns(table: Table, view: type[BaseModel]) -> list[Column[Any]]:
    """The columns of `table` that `view` shows, in the order of its fields."""
    return [table.c[name] for name in view.model_fields]


def shown(row: Row[Any]) -> dict[str, Any]:
    """A row as a view's dict, each datetime in ISO 8601. Its keys are plain `str`:
    SQLAlchemy's are `quoted_name`, a str subclass that JSON encoding (http.Shaped's
    `to_json`) takes the slow way, some 9 us a key."""
    return {
        str(key): value.isoformat() if isinstance(value, datetime) else value
        for key, value in row._mapping.items()
    }
