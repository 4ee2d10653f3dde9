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
