"""Route registry, request and response types shared by every simulated source.

A source module registers its handlers at import time::

    from .routing import Request, Response, route

    @route("GET", "/api.php", source="cbhours")
    def get_live(req: Request) -> Response:
        rooms = req.world.online_rooms(req.now)   # the one shared World
        return Response.json({...})

and is listed once in ``server.SOURCE_MODULES``.  A handler receives a
:class:`Request` (the resolved simulated time, the query, the pending
content fault if any, the simulator and its world) and returns a
:class:`Response`.  Generic faults (status, slow, html, malformed) are applied
by the server around the handler; content faults (``bad_row``,
``duplicates``) are handed to the handler in ``req.fault`` and it decides how
to apply them (ignore them if they make no sense for the source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # pragma: no cover
    from .faults import Fault
    from .server import Simulator
    from .world import World

__all__ = ["Request", "Response", "Route", "route", "routes", "match"]


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]  # repeated keys keep every value, in order
    headers: dict[str, str]  # lower-cased names
    body: bytes
    now: datetime  # simulated time of this request (clock or X-Sim-Time)
    seq: int  # server-wide request counter (1, 2, ...)
    sim: Simulator
    fault: Fault | None = None  # a content fault (bad_row, duplicates) for the handler

    @property
    def world(self) -> World:
        return self.sim.world

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        vals = self.query.get(name)
        return vals[0] if vals else default

    def args(self, name: str) -> list[str]:
        """Every value of a repeated query parameter."""
        return list(self.query.get(name, ()))

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def state(self, source: str) -> dict:
        """Mutable per-source state kept by the simulator (e.g. the last page served)."""
        return self.sim.source_state(source)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # reason phrase; default from the status

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, orjson.dumps(obj), "application/json", dict(headers or {}))

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))

    @classmethod
    def html(cls, html: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, html.encode(), "text/html; charset=UTF-8", dict(headers or {}))


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    prefix: str
    handler: Handler
    source: str
    exact: bool = False  # the path must equal ``prefix`` (e.g. a site's home page ``/``)

    def matches(self, path: str) -> bool:
        return path == self.prefix if self.exact else path.startswith(self.prefix)


_ROUTES: list[Route] = []


def route(method: str, prefix: str, *, source: str | None = None, exact: bool = False
          ) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` requests whose path starts with ``prefix`` (is ``prefix``
    when ``exact``).

    The longest matching prefix wins.  ``source`` names the simulated API
    (defaults to the handler's module name, e.g. ``affiliate``).
    """
    method = method.upper()

    def deco(fn: Handler) -> Handler:
        src = source or fn.__module__.rsplit(".", 1)[-1]
        for r in _ROUTES:
            if r.method == method and r.prefix == prefix:
                if (r.handler is fn
                        or (r.handler.__module__, r.handler.__qualname__) == (fn.__module__, fn.__qualname__)):
                    return fn  # re-import of the same module
                raise ValueError(f"route {method} {prefix} already registered by {r.source}")
        _ROUTES.append(Route(method, prefix, fn, src, exact))
        _ROUTES.sort(key=lambda r: -len(r.prefix))
        return fn

    return deco


def routes() -> list[Route]:
    return list(_ROUTES)


def match(method: str, path: str) -> tuple[Route | None, bool]:
    """(route, path_known): the route for (method, path), and whether any route has that path."""
    known = False
    for r in _ROUTES:
        if r.matches(path):
            known = True
            if r.method == method or (method == "HEAD" and r.method == "GET"):
                return r, True
    return None, known
