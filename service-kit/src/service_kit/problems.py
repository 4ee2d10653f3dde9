"""One error shape for every 4xx, as models the OpenAPI documents, and the handlers
that answer with it.

Every refusal is `{"detail": ...}`: a message for 401/402/403/404/405/409/413/415
(a 409 adds `current_state`), a list of field errors for 422. A field error names
where and why, never the rejected input: it may be personal data (a phone number,
an address) or text that cannot even be encoded (a lone UTF-16 surrogate).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from service_kit.kernel import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PaymentDeclined,
)

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where: ["body", "items", 0, "quantity"]')
    msg: str = Field(description="Why, in words; never the rejected value")
    type: str = Field(description="A stable error kind, e.g. missing, string_too_long")


class Problem(BaseModel):
    detail: str
    current_state: str | None = Field(
        default=None, description="On a 409: the state that refused the command"
    )


class ValidationProblem(BaseModel):
    detail: list[FieldError]


_MEANING = {
    400: "The request is malformed",
    401: "No valid bearer token: missing, expired, tampered or from another issuer",
    402: "The payment was declined",
    403: "The token's role may not do this, or the resource is another person's",
    404: "Unknown resource",
    405: "Method not allowed; `Allow` names the methods of the path",
    409: "Refused in the current state (`current_state` names it), or a concurrent change",
    413: "The body is larger than the limit",
    415: "The body is not `application/json`",
    422: "Invalid input: each error names the field and the reason",
}


def declare(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering these refusals, each with its body model."""
    return {
        status: {
            "model": ValidationProblem if status == 422 else Problem,
            "description": _MEANING[status],
        }
        for status in statuses
    }


# Refusals every route with parameters, an acting user or a JSON body can answer.
PARAMS = (422,)
ACTOR = (401, 403, 422)
BODY = (413, 415, 422)

_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (InvalidInput, 422),
    (PaymentDeclined, 402),
]


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's errors without `input`, `ctx` and `url`; messages made encodable."""
    return [
        {
            "loc": [part if isinstance(part, int) else _encodable(str(part)) for part in e["loc"]],
            "msg": _encodable(str(e["msg"])),
            "type": str(e["type"]),
        }
        for e in errors
    ]


def _encodable(text: str) -> str:
    # A lone surrogate cannot be UTF-8 encoded; a JSON key or message may carry one.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def invalid(loc: Sequence[str | int], msg: str, kind: str = "value_error") -> JSONResponse:
    body = {"detail": field_errors([{"loc": loc, "msg": msg, "type": kind}])}
    return JSONResponse(status_code=422, content=body)


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def _allowed(request: Request) -> str:
    """Every method of the path. Starlette names only those of the first route that
    matches it, and GET and DELETE /orders/{id} are two routes."""
    methods = {
        method
        for route in request.app.router.routes
        if route.matches(request.scope)[0] is not Match.NONE
        for method in getattr(route, "methods", None) or ()
    }
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": field_errors(exc.errors())})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's only 400: a JSON body that is not UTF-8 text.
            return invalid(["body"], "the body is not valid UTF-8 JSON", "json_invalid")
        if exc.status_code == 405:
            return problem(405, "method not allowed", {"Allow": _allowed(request)})
        return problem(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        if isinstance(exc, InvalidInput):
            loc = [exc.location, *exc.field.split(".")] if exc.field else [exc.location]
            return invalid(loc, str(exc))
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, Conflict) and exc.current_state:
            body["current_state"] = exc.current_state
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity conflict: %s", type(exc.orig).__name__)
        return problem(409, "conflicts with a concurrent change; retry")
