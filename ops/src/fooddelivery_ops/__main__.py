"""`python -m fooddelivery_ops <command> ...` (or the `fooddelivery-ops` script).

dlq list|replay ...   the parked messages of every consumer (never prints payloads)
topics ...            create the event and dead-letter topics
rebuild ...           rebuild mypage's read model from the topics
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _dlq(argv: Sequence[str]) -> None:
    from fooddelivery_ops.dlq import main

    main(argv)


def _topics(argv: Sequence[str]) -> None:
    from fooddelivery_ops.topics import main

    main(argv)


def _rebuild(argv: Sequence[str]) -> None:
    from mypage_service.entrypoints.rebuild import main

    raise SystemExit(main(argv))


COMMANDS: dict[str, Callable[[Sequence[str]], None]] = {
    "dlq": _dlq,
    "topics": _topics,
    "rebuild": _rebuild,
}


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    COMMANDS[args[0]](args[1:])


if __name__ == "__main__":
    main()
