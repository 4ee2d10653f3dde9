"""What the code says about the board: read from the registry, each service's FastAPI
app (built with `create_app()`, never started), its message bus, its domain modules
and its ORM tables. Nothing here is written by hand."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from types import CodeType, ModuleType
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from service_kit.kernel import Aggregate
from service_kit.settings import ServiceSettings
from shared_events import registry, topics
from shared_events.contract import Payload
from testkit import ROOT
from testkit.launcher import SERVICES


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    command: str | None  # the command class the endpoint sends to the bus, if any
    summary: str  # what the endpoint does, in words
    errors: tuple[int, ...]  # the error statuses its OpenAPI documents


@dataclass(frozen=True)
class StateMachine:
    aggregate: str
    service: str
    source: str  # the domain module's path in the repository
    states: tuple[str, ...]  # in the order the status enum declares them
    transitions: tuple[tuple[str, tuple[str, ...], str], ...]  # (trigger, from, to)


@dataclass(frozen=True)
class Service:
    name: str
    context: str  # e.g. "Ordering", from the app's summary
    owns: str  # what the summary says the context holds
    tables: tuple[str, ...]  # its own database tables (plumbing aside)
    routes: tuple[Route, ...]
    handles: tuple[type[Payload], ...]  # the consumed events its bus has a policy for
    machines: tuple[StateMachine, ...]
    package: str


@dataclass(frozen=True)
class ReadModel:
    service: str
    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    services: tuple[Service, ...]
    events: tuple[type[Payload], ...]  # every published payload model, contract order
    topics: tuple[str, ...]
    read_models: tuple[ReadModel, ...]
    status_by_event: tuple[tuple[str, str], ...]  # mypage: event type -> visible status
    precedence: tuple[str, ...]  # mypage: lowest first

    def publisher(self, topic: str) -> str:
        """One topic per publishing context: fooddelivery.<context>.events."""
        name = f"{topic.split('.')[1]}-service"
        if name not in {s.name for s in self.services}:
            raise LookupError(f"no service publishes {topic}")
        return name

    def events_on(self, topic: str) -> list[type[Payload]]:
        return [e for e in self.events if e.topic == topic]

    def subscribers(self, event: type[Payload]) -> list[str]:
        return [s.name for s in self.services if event in s.handles]


def key_of(event: type[Payload]) -> str:
    """The message key as a template of the payload's fields, e.g. `{order_id}`: the
    model's own `aggregate_id` evaluated on placeholders."""
    placeholders: dict[str, Any] = {name: f"{{{name}}}" for name in event.model_fields}
    return event.model_construct(**placeholders).aggregate_id


def collect() -> Facts:
    services = tuple(_service(spec.name, spec.package, spec.http_port) for spec in SERVICES)
    mypage = next(s for s in services if s.name == "mypage-service")
    orm = importlib.import_module(f"{mypage.package}.adapters.orm")
    status = importlib.import_module(f"{mypage.package}.domain.status")
    return Facts(
        services=services,
        events=tuple(registry.all_models()),
        topics=topics.EVENT_TOPICS,
        read_models=tuple(
            ReadModel(mypage.name, t.name, tuple(c.name for c in t.columns))
            for t in orm.metadata.sorted_tables
        ),
        status_by_event=tuple((e.event_type, str(s)) for e, s in status.STATUS_BY_EVENT.items()),
        precedence=tuple(str(s) for s in status.PRECEDENCE),
    )


def _service(name: str, package: str, port: int) -> Service:
    bootstrap = importlib.import_module(f"{package}.bootstrap")
    api = importlib.import_module(f"{package}.entrypoints.api")
    # An in-memory database: building the app opens nothing and writes no file.
    settings = ServiceSettings(name, "127.0.0.1", port, port, "sqlite+aiosqlite://", "")
    container = bootstrap.bootstrap(settings)
    app = api.create_app(container)
    context, _, owns = (app.summary or "").partition(": ")
    commands = _command_names(package)
    # The documented routes: not the /docs pages, which are no part of the contract.
    routes = tuple(
        _route(r, commands) for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema
    )
    routed = [r.command for r in routes if r.command]
    if sorted(routed) != sorted(commands):
        raise LookupError(f"{name}: commands {sorted(commands)} but routes send {sorted(routed)}")
    orm = importlib.import_module(f"{package}.adapters.orm")
    bus = getattr(container, "bus", None)  # a service that consumes nothing may have none
    return Service(
        name=name,
        context=context.removesuffix(" context"),
        owns=owns,
        tables=tuple(sorted(t.name for t in orm.metadata.sorted_tables)),
        routes=routes,
        handles=bus.handled_event_types() if bus is not None else (),
        machines=tuple(_machines(name, package)),
        package=package,
    )


def _command_names(package: str) -> list[str]:
    try:
        module = importlib.import_module(f"{package}.domain.commands")
    except ModuleNotFoundError:
        return []  # a read side takes no commands
    return [n for n, v in vars(module).items() if _defined_in(v, module)]


def _route(route: APIRoute, commands: list[str]) -> Route:
    names = set(_names(route.endpoint.__code__))
    for param in route.dependant.body_params:
        body = param.field_info.annotation
        if isinstance(body, type) and issubclass(body, BaseModel):
            # A body model may build the command itself (PlaceOrderBody.command).
            for member in vars(body).values():
                if inspect.isfunction(member):
                    names.update(_names(member.__code__))
    sent = [c for c in commands if c in names]
    if len(sent) > 1:
        raise LookupError(f"{route.path}: one route sends one command, not {sent}")
    doc = inspect.getdoc(route.endpoint) or ""
    return Route(
        method=sorted(route.methods or {"GET"})[0],  # FastAPI defaults to GET
        path=route.path,
        command=sent[0] if sent else None,
        # The docstring's first paragraph, else the endpoint's name in words.
        summary=doc.split("\n\n")[0].replace("\n", " ") or route.name.replace("_", " "),
        errors=tuple(sorted(int(code) for code in route.responses if int(code) >= 400)),
    )


def _names(code: CodeType) -> Iterator[str]:
    """Every global and attribute name the code (and the code nested in it) refers to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def _machines(service: str, package: str) -> Iterator[StateMachine]:
    """Each domain module that declares `TRANSITIONS` (trigger -> (from, to)) beside
    the one aggregate it belongs to."""
    domain = importlib.import_module(f"{package}.domain")
    for info in sorted(pkgutil.iter_modules(domain.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.domain.{info.name}")
        table: dict[str, tuple[frozenset[Enum], Enum]] | None = getattr(module, "TRANSITIONS", None)
        if table is None:
            continue
        (aggregate,) = [
            v for v in vars(module).values() if _defined_in(v, module) and _is_aggregate(v)
        ]
        states = type(next(iter(table.values()))[1])
        yield StateMachine(
            aggregate=aggregate.__name__,
            service=service,
            source=str(inspect.getfile(module)).removeprefix(f"{ROOT}/"),
            states=tuple(s.value for s in states),  # the first declared is the initial one
            transitions=tuple(
                (trigger, tuple(s.value for s in states if s in sources), target.value)
                for trigger, (sources, target) in table.items()
            ),
        )


def _defined_in(value: Any, module: ModuleType) -> bool:
    return isinstance(value, type) and value.__module__ == module.__name__


def _is_aggregate(value: type) -> bool:
    return issubclass(value, Aggregate)
