"""Both generated files, and which committed ones are stale."""

from __future__ import annotations

from pathlib import Path

from testkit import ROOT
from testkit.board.asyncapi import render_asyncapi
from testkit.board.facts import collect
from testkit.board.markdown import render_board

DOCS = ROOT / "docs"


def generate() -> dict[Path, str]:
    """Each generated file's path and the text the code says it should hold."""
    facts = collect()
    return {DOCS / "board.md": render_board(facts), DOCS / "asyncapi.yaml": render_asyncapi(facts)}


def stale(generated: dict[Path, str]) -> list[Path]:
    """The files whose committed text differs from `generated` (or that are missing)."""
    return [
        path
        for path, text in generated.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
