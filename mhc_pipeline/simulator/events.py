"""Simulated Chaturbate Events API for the owner's room: ``GET /events/{username}/{token}/`` (sources.md §2).

The events themselves (sessions, visitors, ids, emitted events) are :mod:`.event_stream`'s; this
module is the HTTP route that serves them.

HTTP semantics
--------------
* wrong username or token: 401 ``text/plain`` ``Unauthorized``; a path that is not
  ``/events/<user>/<token>/`` (trailing slash optional): 404.
* ``timeout``: default 10, clamped to 0..90 (not an integer: 400 ``text/plain``); ``i`` must look like
  ``<digits>-<digits>`` (else 400 ``text/plain``).
* without ``i``: the backlog, i.e. the newest ``events_backlog_max`` (500) events of the last
  ``events_backlog_seconds`` (300 s) of simulated time, answered at once even when empty.  With an
  empty backlog ``nextUrl``'s ``i`` is the id of the last event before now.
* with ``i``: events with id > ``i`` and time <= now, at most ``events_batch_max`` (500), at once if any;
  otherwise the request waits (real time) up to ``timeout`` seconds for events to become due (a
  running clock, ``emit_event``) and then answers ``{"events": [], "nextUrl": ...}``.  An ``i`` older
  than ``events_retention_seconds`` (48 h) before now is served from the retention edge.
* ``nextUrl`` = ``http://<Host header>/events/<owner>/<token>/?i=<last id>&timeout=<timeout>``; the
  same ``i`` on an empty answer.  Re-requesting an old ``nextUrl`` replays the events after its ``i``.
* ``events_waited_too_long = True`` (or a ``waited_too_long`` fault): an empty answer is HTTP 400
  ``{"status": "waited too long for events", "events": [], "nextUrl": ...}`` (the fault answers that at
  once, without waiting, whatever is pending).
* more than ``events_rate_limit`` (2000) requests per 60 s with the valid token: 429 ``text/plain``
  with ``Retry-After`` (rejected requests do not count).
* content fault ``duplicates``: the ``n`` events up to and including ``i`` are replayed in front of
  the answer (ids stay ascending).  ``bad_row`` is ignored.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import quote

import orjson

from .event_stream import INF, EventStream, Key, _ms, format_id, id_key
from .routing import Request, Response, route

if TYPE_CHECKING:  # pragma: no cover
    from .server import Simulator

__all__ = ["PATH", "DEFAULT_TOKEN"]

PATH = "/events/"
DEFAULT_TOKEN = "sim-events-token-0123456789"


# ---------------------------------------------------------------------------
# HTTP


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response.text(text, status, headers)


def _next_url(req: Request, owner: str, token: str, key: Key | None, timeout: int) -> str:
    host = req.headers.get("host", "")
    base = f"http://{host}" if re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host or "") else req.sim.url
    i = format_id(key) if key is not None else "0-0"
    return f"{base}/events/{quote(owner)}/{quote(token, safe='')}/?i={i}&timeout={timeout}"


def _rate_limited(sim: Simulator) -> Response | None:
    limit = getattr(sim, "events_rate_limit", 2000)
    if not limit:
        return None
    state = sim.source_state("events")
    with sim._state_lock:  # noqa: SLF001
        window: deque = state.setdefault("window", deque())
        mono = time.monotonic()
        while window and mono - window[0] >= 60.0:
            window.popleft()
        if len(window) >= int(limit):
            state["limited"] = state.get("limited", 0) + 1
            retry = max(1, math.ceil(60.0 - (mono - window[0])))
            return _text(429, "Too Many Requests", {"Retry-After": str(retry)})
        window.append(mono)
    return None


@route("GET", PATH, source="events")
def events(req: Request) -> Response:
    sim = req.sim
    stream: EventStream = sim.event_stream
    parts = req.path[len(PATH):].split("/")
    if parts and parts[-1] == "":
        parts = parts[:-1]
    if len(parts) != 2 or not all(parts):
        return _text(404, "Not Found")
    user, token = parts
    owner = stream.owner
    if owner is None or user.lower() != owner or token != sim.events_token:
        return _text(401, "Unauthorized")
    limited = _rate_limited(sim)
    if limited is not None:
        return limited

    raw_timeout = req.arg("timeout")
    try:
        timeout = 10 if raw_timeout in (None, "") else int(raw_timeout)
    except ValueError:
        return _text(400, "timeout must be an integer (0-90)")
    timeout = max(0, min(90, timeout))
    raw_i = req.arg("i")
    after: Key | None = None
    if raw_i not in (None, ""):
        try:
            after = id_key(raw_i)
        except ValueError:
            return _text(400, "invalid event id in i")

    fixed_now = "x-sim-time" in req.headers  # an X-Sim-Time request never sees the clock move
    fault = req.fault.kind if req.fault is not None else None
    batch_max = max(1, int(sim.events_batch_max))

    def now_ms() -> int:
        return _ms(req.now if fixed_now else sim.now())

    if after is None:  # first call: the backlog
        now = now_ms()
        window_start = now - int(float(sim.events_backlog_seconds) * 1000)
        found = stream.between((window_start, INF), now)
        found = found[-max(1, int(sim.events_backlog_max)):]
        last = id_key(found[-1]["id"]) if found else stream.last_before(now)
        if fault == "waited_too_long":
            return _waited(req, owner, token, last, timeout)
        return Response.json({"events": found, "nextUrl": _next_url(req, owner, token, last, timeout)})

    if fault == "waited_too_long":
        return _waited(req, owner, token, after, timeout)
    deadline = time.monotonic() + timeout
    retention = int(float(sim.events_retention_seconds) * 1000)
    while True:
        now = now_ms()
        lower = max(after, (now - retention, INF)) if retention > 0 else after
        found = stream.between(lower, now, batch_max)
        remaining = deadline - time.monotonic()
        if found or remaining <= 0 or sim._stopping.is_set():  # noqa: SLF001
            break
        with stream.changed:
            stream.changed.wait(min(remaining, 0.05))
    if fault == "duplicates":
        n = int(req.fault.params.get("n", 3)) if req.fault is not None else 3
        before = stream.between((max(0, after[0] - 6 * 3_600_000), 0), after[0])
        before = [ev for ev in before if id_key(ev["id"]) <= after][-n:]
        found = before + found
    last = id_key(found[-1]["id"]) if found else after
    if not found and sim.events_waited_too_long:
        return _waited(req, owner, token, last, timeout)
    return Response.json({"events": found, "nextUrl": _next_url(req, owner, token, last, timeout)})


def _waited(req: Request, owner: str, token: str, key: Key | None, timeout: int) -> Response:
    body = {"status": "waited too long for events", "events": [],
            "nextUrl": _next_url(req, owner, token, key, timeout)}
    return Response(400, orjson.dumps(body), "application/json")
