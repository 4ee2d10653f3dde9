"""The event-storming board, generated from the code: `docs/board.md` and the AsyncAPI
document `docs/asyncapi.yaml`.

    uv run python -m testkit.board write   # (re)write both files (`make board`)
    uv run python -m testkit.board check   # exit 1 when either differs from the code

`facts` reads the code (the event registry, each service's FastAPI routes, its
message bus's policy table, the domain's transition tables, the ORM tables);
`prose` holds the words no code can say (what a command decides, what a policy
does, the invariants), cross-checked against those facts; `markdown` and
`asyncapi` render. It lives in the dev-only harness, not in `ops`, because it
imports every service and is a build-time tool, not an operator command.
"""

from __future__ import annotations

from pathlib import Path

from testkit import ROOT

DOCS = ROOT / "docs"


def generate() -> dict[Path, str]:
    """Each generated file's path and the text the code says it should hold."""
    from testkit.board.asyncapi import render_asyncapi
    from testkit.board.facts import collect
    from testkit.board.markdown import render_board

    facts = collect()
    return {DOCS / "board.md": render_board(facts), DOCS / "asyncapi.yaml": render_asyncapi(facts)}


def stale(generated: dict[Path, str]) -> list[Path]:
    """The files whose committed text differs from `generated` (or that are missing)."""
    return [
        path
        for path, text in generated.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
