"""Control endpoints under ``/_sim/``: the Python API of :class:`Simulator` over HTTP.

=======  =========================  =====================================================
GET      /_sim/health               status, world size, clock, routes, counters
GET      /_sim/faults               pending faults
POST     /_sim/faults               queue a fault spec (object) or several (array)
DELETE   /_sim/faults               clear all faults
GET      /_sim/clock                ``{"now", "frozen", "time_scale"}``
POST     /_sim/clock                ``{"now": iso | null, "frozen": true, "time_scale": x}``
GET      /_sim/config               ``{"order_jitter", "order_salt"}``
POST     /_sim/config               ``{"order_jitter": 5.0, "order_salt": "time" | "request"}``
GET      /_sim/requests             the request log (``?since=<seq>`` for newer only)
DELETE   /_sim/requests             clear the request log
GET      /_sim/truth/affiliate      ``?at=<iso>[&full=true][&wm=..]``: online usernames
=======  =========================  =====================================================

Errors are JSON ``{"error": ...}`` with 400 (bad input), 404 or 405.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson

from . import routing
from .faults import make_fault
from .routing import Request, Response
from .world import parse_time

_Control = Callable[[Request], Response]
_CONTROLS: dict[tuple[str, str], _Control] = {}


def _control(method: str, path: str) -> Callable[[_Control], _Control]:
    def deco(fn: _Control) -> _Control:
        _CONTROLS[(method, path)] = fn
        return fn

    return deco


class _BadInput(ValueError):
    pass


def dispatch(req: Request) -> Response:
    path = req.path.rstrip("/") or "/"
    fn = _CONTROLS.get((req.method, path))
    if fn is None:
        if any(p == path for _, p in _CONTROLS):
            return Response.json({"error": "method not allowed", "method": req.method, "path": req.path}, 405)
        return Response.json({"error": "unknown control endpoint", "path": req.path}, 404)
    try:
        return fn(req)
    except (_BadInput, ValueError, TypeError, orjson.JSONDecodeError) as e:
        return Response.json({"error": str(e)}, 400)


def _body(req: Request) -> Any:
    try:
        return req.json()
    except orjson.JSONDecodeError as e:
        raise _BadInput(f"body is not JSON: {e}") from None


def _bool(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes", "on")


@_control("GET", "/_sim/health")
def health(req: Request) -> Response:
    sim = req.sim
    w = sim.world
    return Response.json({
        "status": "ok",
        "url": sim.url,
        "rooms": w.rooms,
        "seed": w.seed,
        "owner": w.owner,
        "now": sim.now().isoformat(),
        "frozen": sim.frozen,
        "time_scale": sim.time_scale,
        "order_jitter": sim.order_jitter,
        "order_salt": sim.order_salt,
        "requests": len(sim.requests),
        "pending_faults": len(sim.faults),
        "routes": [{"method": r.method, "prefix": r.prefix, "source": r.source} for r in routing.routes()],
    })


@_control("GET", "/_sim/faults")
def faults_list(req: Request) -> Response:
    return Response.json({"faults": req.sim.faults})


@_control("POST", "/_sim/faults")
def faults_add(req: Request) -> Response:
    spec = _body(req)
    specs = spec if isinstance(spec, list) else [spec]
    built = []
    for s in specs:  # validate all before queueing any
        if not isinstance(s, dict):
            raise _BadInput("a fault spec is a JSON object: {\"path\": ..., \"kind\": ..., \"count\": 1, ...}")
        s = dict(s)
        try:
            path, kind = s.pop("path"), s.pop("kind")
        except KeyError as e:
            raise _BadInput(f"fault spec needs {e.args[0]!r}") from None
        built.append(make_fault(path, kind, s.pop("count", 1), **s))
    queued = [req.sim.inject(f.path, f.kind, count=f.count, **f.params) for f in built]
    return Response.json({"queued": [f.to_dict() for f in queued]}, 201)


@_control("DELETE", "/_sim/faults")
def faults_clear(req: Request) -> Response:
    return Response.json({"cleared": req.sim.clear_faults()})


def _clock(req: Request) -> Response:
    sim = req.sim
    return Response.json({"now": sim.now().isoformat(), "frozen": sim.frozen, "time_scale": sim.time_scale})


_control("GET", "/_sim/clock")(_clock)


@_control("POST", "/_sim/clock")
def clock_set(req: Request) -> Response:
    body = _body(req) or {}
    if not isinstance(body, dict):
        raise _BadInput('expected {"now": "<iso>" | null, "frozen": true, "time_scale": 1.0}')
    if "time_scale" in body:
        ts = body["time_scale"]
        if not isinstance(ts, (int, float)) or ts < 0:
            raise _BadInput("time_scale must be a number >= 0")
        req.sim.time_scale = ts
    if "now" in body:
        now = body["now"]
        if now is not None and not isinstance(now, str):
            raise _BadInput("now must be an ISO-8601 string or null")
        req.sim.set_time(parse_time(now) if now else None, frozen=bool(body.get("frozen", True)))
    return _clock(req)


@_control("GET", "/_sim/config")
def config_get(req: Request) -> Response:
    return Response.json({"order_jitter": req.sim.order_jitter, "order_salt": req.sim.order_salt})


@_control("POST", "/_sim/config")
def config_set(req: Request) -> Response:
    body = _body(req) or {}
    if not isinstance(body, dict):
        raise _BadInput('expected {"order_jitter": <number >= 0>, "order_salt": "time" | "request"}')
    unknown = set(body) - {"order_jitter", "order_salt"}
    if unknown:
        raise _BadInput(f"unknown config keys: {sorted(unknown)}")
    j = body.get("order_jitter", req.sim.order_jitter)
    if not isinstance(j, (int, float)) or isinstance(j, bool) or j < 0:
        raise _BadInput("order_jitter must be a number >= 0")
    salt = body.get("order_salt", req.sim.order_salt)
    if salt not in ("time", "request"):
        raise _BadInput('order_salt must be "time" or "request"')
    req.sim.order_jitter = float(j)
    req.sim.order_salt = salt
    return config_get(req)


@_control("GET", "/_sim/requests")
def requests_list(req: Request) -> Response:
    since = int(req.arg("since", "0") or 0)
    return Response.json({"requests": [r.to_dict() for r in req.sim.requests if r.seq > since]})


@_control("DELETE", "/_sim/requests")
def requests_clear(req: Request) -> Response:
    req.sim.reset_requests()
    return Response.json({"cleared": True})


@_control("GET", "/_sim/truth/affiliate")
def truth_affiliate(req: Request) -> Response:
    at = req.arg("at")
    t = parse_time(at) if at else req.now
    wm = req.arg("wm") or "SIMWM"
    rooms = req.world.online_rooms(t, wm)
    out: dict[str, Any] = {"at": t.isoformat(), "count": len(rooms), "usernames": [r["username"] for r in rooms]}
    if _bool(req.arg("full")):
        out["rooms"] = rooms
    return Response.json(out)
