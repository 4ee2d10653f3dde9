"""Helpers for the convergence tests every consuming service has.

Events of one aggregate on one topic arrive in order; events from different
topics may interleave in any way. `interleavings` yields every such arrival
order, and `twice` delivers each event a second time (at-least-once)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def interleavings(*streams: Sequence[T]) -> Iterator[list[T]]:
    """Every merge of the streams that keeps each stream's own order."""
    streams = tuple(s for s in streams if s)
    if not streams:
        yield []
        return
    for i, stream in enumerate(streams):
        rest = (*streams[:i], stream[1:], *streams[i + 1 :])
        for tail in interleavings(*rest):
            yield [stream[0], *tail]


def twice(arrivals: Sequence[T]) -> list[T]:
    """Each event redelivered right after itself, as after a lost acknowledgement."""
    return [event for event in arrivals for event in (event, event)]
