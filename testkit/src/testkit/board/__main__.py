"""`python -m testkit.board write|check` (see the package's docstring)."""

from __future__ import annotations

import sys

from testkit import ROOT
from testkit.board.generate import generate, stale


def main(argv: list[str]) -> int:
    if argv not in (["write"], ["check"]):
        print("usage: python -m testkit.board write|check", file=sys.stderr)
        return 2
    generated = generate()
    if argv == ["check"]:
        for path in stale(generated):
            print(f"{path.relative_to(ROOT)} is stale: run `make board`", file=sys.stderr)
        return 1 if stale(generated) else 0
    for path, text in generated.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
