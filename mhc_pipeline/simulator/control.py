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
GET      /_sim/cbhours              CBHours settings and counters: ``{"rate_limit", "min_interval",
                                    "block_seconds", "violations", "blocked"}``
POST     /_sim/cbhours              ``{"rate_limit": bool, "min_interval": s, "block_seconds": s,
                                    "reset": true}`` (reset clears violations and the block)
GET      /_sim/truth/cbhours        ``?usernames=a,b[&at=<iso>]``: the ``get_live`` ``data``
GET      /_sim/events               Events API settings: ``{"owner", "token", "waited_too_long",
                                    "rate_limit", "backlog_seconds", "backlog_max", "batch_max",
                                    "retention_seconds", "emitted"}``
POST     /_sim/events               set any of those (not owner/token/emitted), or
                                    ``{"reset": true}`` (forget emitted events, rate window)
POST     /_sim/events/emit          ``{"method": ..., "object": ..., "at": <iso> | null}`` -> the event
GET      /_sim/truth/events         ``?until=<iso>[&since=<id or iso>][&full=true]``: event ids
                                    (``events`` too with full=true), see ``Simulator.events_until``
=======  =========================  =====================================================

Errors are JSON ``{"error": ...}`` with 400 (bad input), 404 or 405.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from . import cbhours, routing
from .faults import make_fault
from .people import parse_time
from .routing import Request, Response

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


# ---------------------------------------------------------------------------
# CBHours and Events API


def _cbhours_get(req: Request) -> Response:
    sim = req.sim
    state = sim.source_state("cbhours")
    return Response.json({"rate_limit": sim.cbhours_rate_limit, "min_interval": sim.cbhours_min_interval,
                          "block_seconds": sim.cbhours_block_seconds,
                          "violations": len(state.get("violations", ())), "blocked": state.get("blocked", 0)})


_control("GET", "/_sim/cbhours")(_cbhours_get)


@_control("POST", "/_sim/cbhours")
def cbhours_set(req: Request) -> Response:
    body = _body(req) or {}
    if not isinstance(body, dict):
        raise _BadInput('expected {"rate_limit": true, "min_interval": 0.9, "block_seconds": 2, '
                        '"reset": false}')
    unknown = set(body) - {"rate_limit", "min_interval", "block_seconds", "reset"}
    if unknown:
        raise _BadInput(f"unknown cbhours keys: {sorted(unknown)}")
    sim = req.sim
    for k in ("min_interval", "block_seconds"):
        if k in body and (not isinstance(body[k], (int, float)) or isinstance(body[k], bool) or body[k] < 0):
            raise _BadInput(f"{k} must be a number >= 0")
    if "rate_limit" in body:
        sim.cbhours_rate_limit = bool(body["rate_limit"])
    if "min_interval" in body:
        sim.cbhours_min_interval = float(body["min_interval"])
    if "block_seconds" in body:
        sim.cbhours_block_seconds = float(body["block_seconds"])
    if body.get("reset"):
        sim.source_state("cbhours").clear()
    return _cbhours_get(req)


@_control("GET", "/_sim/truth/cbhours")
def truth_cbhours(req: Request) -> Response:
    at = req.arg("at")
    t = parse_time(at) if at else req.now
    names = [n for n in (req.arg("usernames") or "").split(",") if n.strip()]
    return Response.json({"at": t.isoformat(), "data": cbhours.live_data(req.world, names, t)})


_EVENT_KEYS = {
    "waited_too_long": ("events_waited_too_long", bool),
    "rate_limit": ("events_rate_limit", int),
    "backlog_seconds": ("events_backlog_seconds", float),
    "backlog_max": ("events_backlog_max", int),
    "batch_max": ("events_batch_max", int),
    "retention_seconds": ("events_retention_seconds", float),
}


def _events_get(req: Request) -> Response:
    sim = req.sim
    out: dict[str, Any] = {"owner": sim.event_stream.owner, "token": sim.events_token}
    out.update({k: getattr(sim, attr) for k, (attr, _) in _EVENT_KEYS.items()})
    out["emitted"] = len(sim.event_stream._emitted)  # noqa: SLF001
    return Response.json(out)


_control("GET", "/_sim/events")(_events_get)


@_control("POST", "/_sim/events")
def events_set(req: Request) -> Response:
    body = _body(req) or {}
    if not isinstance(body, dict):
        raise _BadInput("expected an object of Events API settings")
    unknown = set(body) - set(_EVENT_KEYS) - {"reset"}
    if unknown:
        raise _BadInput(f"unknown events keys: {sorted(unknown)}")
    for k, (_attr, typ) in _EVENT_KEYS.items():
        if k not in body:
            continue
        v = body[k]
        if typ is bool:
            if not isinstance(v, bool):
                raise _BadInput(f"{k} must be true or false")
        elif not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise _BadInput(f"{k} must be a number >= 0")
    for k, (attr, typ) in _EVENT_KEYS.items():
        if k in body:
            setattr(req.sim, attr, typ(body[k]))
    if body.get("reset"):
        req.sim.reset_events()
    return _events_get(req)


@_control("POST", "/_sim/events/emit")
def events_emit(req: Request) -> Response:
    body = _body(req)
    if not isinstance(body, dict) or not isinstance(body.get("method"), str) or "object" not in body:
        raise _BadInput('expected {"method": "<name>", "object": {...}, "at": "<iso>" | null}')
    at = body.get("at")
    if at is not None and not isinstance(at, str):
        raise _BadInput("at must be an ISO-8601 string or null")
    event = req.sim.emit_event(body["method"], body["object"], parse_time(at) if at else None)
    return Response.json(event, 201)


@_control("GET", "/_sim/truth/events")
def truth_events(req: Request) -> Response:
    until = req.arg("until")
    t = parse_time(until) if until else req.now
    since_raw = req.arg("since")
    since: Any = None
    if since_raw:
        is_id = since_raw.replace("-", "").isdigit()
        since = since_raw if is_id else parse_time(since_raw)
    evs = req.sim.events_until(t, since)
    out: dict[str, Any] = {"until": t.isoformat(), "count": len(evs), "ids": [e["id"] for e in evs]}
    if _bool(req.arg("full")):
        out["events"] = evs
    return Response.json(out)
