"""Simulated Chaturbate Stats API: ``GET /statsapi/?username=<owner>&token=<token>`` (sources.md §3).

The owner's own statistics, from the same World as the Affiliate, CBHours and Events simulations:

* the snapshot is the world at ``t`` floored to 5 minutes ("the data is refreshed once every 5
  minutes": polling faster returns the same snapshot);
* ``num_followers`` = :meth:`World.num_followers` of the owner (the Affiliate room's ``num_followers``
  when online); ``num_viewers`` = the Affiliate room's ``num_users`` when online, else 0;
  ``num_registered_viewers`` <= ``num_viewers`` and ``num_tokened_viewers`` <= that;
* ``time_online`` = whole minutes since the current session started, ``-1`` when not broadcasting;
* ``last_broadcast`` = the current session's start while broadcasting, else the end of the last
  session within 30 days, as a NAIVE ISO string in UTC (Python ``isoformat``: microseconds when not
  zero); the int ``-1`` when there is none (or in ``new_account`` mode);
* ``tips_in_last_hour`` = the number of ``tip`` events of the owner's Events stream in the last hour
  (the documented meaning); ``null`` when the owner did not broadcast at all in that hour;
* ``token_balance`` = a carried balance (deterministic per UTC day) + the tokens of every tip of the
  Events stream since 00:00 UTC: it grows exactly by the tips the Events API delivers;
* ``votes_up`` / ``votes_down`` (deterministic per day) and ``satisfaction_score`` = the percentage up
  (0 with no votes).

Errors (configure with :func:`configure`, or ``POST /_sim/stats``):

* wrong/missing token, or a ``username`` that is not the token's owner: the plain-text body
  ``Unauthorized`` (not JSON) with HTTP ``unauthorized_status`` (default 401; the real status is
  not confirmed, 200 is possible);
* more than ``rate_limit`` requests (default 20; 0 = off) within 60 s of real time with the valid
  token: HTTP 403 ``text/plain`` ``Try slowing down a little.`` for ``throttle_seconds`` (60);
  ``throttle = True`` answers that to every valid request;
* ``new_account = True``: a never-broadcast account (``last_broadcast: -1``, ``time_online: -1``,
  ``tips_in_last_hour: null``, zeros);
* the generic faults (``status``, ``html`` = a Cloudflare page, ``malformed``, ``slow``) of
  :mod:`.faults`; content fault ``bad_row``: ``num_followers`` becomes ``"lots"``.

State and counters live in ``sim.source_state("stats")`` (``throttled``: requests answered 403).
"""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from . import control
from .people import _hu, to_utc
from .routing import Request, Response, route
from .world import World

__all__ = ["PATH", "DEFAULT_TOKEN", "THROTTLE_BODY", "snapshot", "configure", "settings_of"]

PATH = "/statsapi/"
DEFAULT_TOKEN = "sim-stats-token-01234567"  # 24 characters, like a real token
THROTTLE_BODY = "Try slowing down a little."
UNAUTHORIZED_BODY = "Unauthorized"
REFRESH_MINUTES = 5
LAST_BROADCAST_LOOKBACK_DAYS = 30
_CH_STATS = 0x57A7  # hash channel of the stats values (distinct from the World's)
DEFAULTS: dict[str, Any] = {
    "token": DEFAULT_TOKEN,
    "unauthorized_status": 401,
    "rate_limit": 20,
    "throttle_seconds": 60.0,
    "throttle": False,
    "new_account": False,
}


def settings_of(sim) -> dict[str, Any]:
    """The Stats API settings of ``sim`` (defaults filled in); mutate through :func:`configure`."""
    state = sim.source_state("stats")
    with sim._state_lock:  # noqa: SLF001 - one lock for every source's small state
        for k, v in DEFAULTS.items():
            state.setdefault(k, v)
        state.setdefault("throttled", 0)
        return state


def configure(sim, *, reset: bool = False, **values: Any) -> dict[str, Any]:
    """Set Stats API settings (keys of :data:`DEFAULTS`); ``reset`` clears the throttle window too."""
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown stats settings: {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    state = settings_of(sim)
    with sim._state_lock:  # noqa: SLF001
        for k, v in values.items():
            default = DEFAULTS[k]
            if isinstance(default, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be true or false")
            elif isinstance(default, (int, float)):
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise ValueError(f"{k} must be a number >= 0")
                v = type(default)(v)
            elif not isinstance(v, str) or not v:
                raise ValueError(f"{k} must be a non-empty string")
            state[k] = v
        if reset:
            state.pop("window", None)
            state.pop("blocked_until", None)
            state["throttled"] = 0
    return state


# ---------------------------------------------------------------------------
# the truth


def _naive_iso(t: datetime, key: int, salt: int) -> str:
    """A naive ISO string (UTC wall clock), with a deterministic sub-minute part like the real one."""
    micros = int(_hu(key, _CH_STATS, salt) * 60_000_000)
    return (to_utc(t) + timedelta(microseconds=micros)).replace(tzinfo=None).isoformat()


def _tips(sim, owner: str, lo: datetime, hi: datetime) -> list[dict]:
    """The owner's tip events with lo < time <= hi (the Events API's stream)."""
    lo_ms, hi_ms = math.floor(lo.timestamp() * 1000), math.floor(hi.timestamp() * 1000)
    return [e for e in sim.event_stream.between((lo_ms, 1 << 62), hi_ms) if e.get("method") == "tip"]


def snapshot(sim, t: datetime, *, new_account: bool | None = None) -> dict[str, Any] | None:
    """The Stats API answer for the world's owner at ``t`` (None when the world has no owner)."""
    world: World = sim.world
    owner = world.owner
    if owner is None or owner not in world:
        return None
    if new_account is None:
        new_account = bool(settings_of(sim)["new_account"])
    t = to_utc(t)
    minute = math.floor(t.timestamp()) // 60
    at = datetime.fromtimestamp((minute - minute % REFRESH_MINUTES) * 60, UTC)  # 5-minute refresh
    key = world.model(owner).key
    day = minute // 1440
    if new_account:
        return {"username": owner, "token_balance": 0, "tips_in_last_hour": None, "votes_up": 0,
                "votes_down": 0, "satisfaction_score": 0, "last_broadcast": -1, "time_online": -1,
                "num_followers": world.num_followers(owner, at) % 50, "num_viewers": 0,
                "num_registered_viewers": 0, "num_tokened_viewers": 0}

    live = world.live_state(owner, at)
    sessions = world.sessions(owner, at - timedelta(days=LAST_BROADCAST_LOOKBACK_DAYS), at + timedelta(minutes=1))
    if live is not None:
        viewers = live.num_users
        time_online = max(0, int((at - live.session_start).total_seconds()) // 60)
        last_broadcast: Any = _naive_iso(live.session_start, key, int(live.session_start.timestamp()))
    else:
        viewers = 0
        time_online = -1
        ended = [e for _s, e in sessions if e <= at]
        last_broadcast = _naive_iso(max(ended), key, int(max(ended).timestamp())) if ended else -1
    bucket = minute // REFRESH_MINUTES
    registered = int(viewers * (0.55 + 0.25 * _hu(key, _CH_STATS, bucket * 4 + 1)))
    tokened = int(registered * (0.15 + 0.3 * _hu(key, _CH_STATS, bucket * 4 + 2)))

    hour_ago = at - timedelta(hours=1)
    broadcast_in_hour = any(s < at and e > hour_ago for s, e in sessions)
    tips_hour = len(_tips(sim, owner, hour_ago, at)) if broadcast_in_hour else None
    midnight = datetime.fromtimestamp(day * 86400, UTC)
    carried = int(20000 * _hu(key, _CH_STATS, day * 4 + 3))
    balance = carried + sum(int(e["object"]["tip"]["tokens"]) for e in _tips(sim, owner, midnight, at)
                            if isinstance(e.get("object"), dict) and isinstance(e["object"].get("tip"), dict))
    up = 200 + int(1800 * _hu(key, _CH_STATS, day * 4 + 4))
    down = int(up * 0.04 * _hu(key, _CH_STATS, day * 4 + 5))
    return {
        "username": owner,
        "token_balance": balance,
        "tips_in_last_hour": tips_hour,
        "votes_up": up,
        "votes_down": down,
        "satisfaction_score": round(100 * up / (up + down)) if up + down else 0,
        "last_broadcast": last_broadcast,
        "time_online": time_online,
        "num_followers": world.num_followers(owner, at),
        "num_viewers": viewers,
        "num_registered_viewers": registered,
        "num_tokened_viewers": tokened,
    }


# ---------------------------------------------------------------------------
# HTTP


def _throttled(sim, state: dict[str, Any]) -> bool:
    """The Django-style throttle: too many requests within 60 s of real time, then a block."""
    with sim._state_lock:  # noqa: SLF001
        mono = time.monotonic()
        if state.get("throttle"):
            state["throttled"] += 1
            return True
        if mono < state.get("blocked_until", 0.0):
            state["throttled"] += 1
            return True
        limit = int(state.get("rate_limit") or 0)
        window: deque = state.setdefault("window", deque())
        if not limit:
            window.clear()
            return False
        while window and mono - window[0] >= 60.0:
            window.popleft()
        if len(window) >= limit:
            state["blocked_until"] = mono + float(state["throttle_seconds"])
            state["throttled"] += 1
            return True
        window.append(mono)
    return False


@route("GET", PATH, source="stats")
def stats(req: Request) -> Response:
    sim = req.sim
    state = settings_of(sim)
    owner = req.world.owner
    username = (req.arg("username") or "").strip().lower()
    token = req.arg("token") or ""
    if owner is None or token != state["token"] or username != owner:
        return Response.text(UNAUTHORIZED_BODY, int(state["unauthorized_status"]))
    if _throttled(sim, state):
        return Response.text(THROTTLE_BODY, 403)
    body = snapshot(sim, req.now)
    if req.fault is not None and req.fault.kind == "bad_row" and body is not None:
        body["num_followers"] = "lots"
    return Response.json(body)


# ---------------------------------------------------------------------------
# control endpoints: GET /_sim/stats (settings and counters), POST /_sim/stats (set; {"reset": true})


def _stats_get(req: Request) -> Response:
    state = settings_of(req.sim)
    out = {k: state[k] for k in DEFAULTS}
    out["throttled"] = state["throttled"]
    out["owner"] = req.world.owner
    return Response.json(out)


control._control("GET", "/_sim/stats")(_stats_get)  # noqa: SLF001 - the control registry


@control._control("POST", "/_sim/stats")  # noqa: SLF001
def _stats_set(req: Request) -> Response:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise ValueError("expected an object of Stats API settings")
    reset = bool(body.pop("reset", False))
    configure(req.sim, reset=reset, **body)
    return _stats_get(req)


@control._control("GET", "/_sim/truth/stats")  # noqa: SLF001
def _truth_stats(req: Request) -> Response:
    at = req.arg("at")
    from .people import parse_time

    return Response.json(snapshot(req.sim, parse_time(at) if at else req.sim.now()))
