"""Simulated StatBate Plus (Premium) API under ``/statbate/api`` (sources.md §4), from the one World.

Who exists
----------
* **Models**: every model of the World (the owner included). ``rid`` is a fixed number per model,
  ``gender`` the integer of the spec (0 male, 1 female, 2 trans, 3 couple), ``rank`` the position by
  popularity among all models (1 = most popular).
* **Members** (tippers): the Events API's visitor population (3,000 viewers, so every tipper in the
  owner's room exists here) plus every World model (models tip too). ``did`` is a fixed number per
  member. Anyone else: 404.

Tips
----
Every member has 1-4 favourite models (a fixed hash of the name); a model's tippers are the members
who have it as a favourite. During each broadcast session of a model (:meth:`World.sessions`) its
tips are a deterministic list from ``random.Random(f"{seed}:statbate:{model}:{session start}")``:
about ``0.1 + popularity / 200`` an hour (at most 2), at whole seconds inside the session, tokens
from a Chaturbate-like list, ``usd = tokens * 0.05``. No two tips share (time, model, member,
tokens). Model tips and member tips are the same tips seen from both sides
(:func:`model_tips` / :func:`member_tips` are the ground truth). Tips up to the request's time only.

Date-time formats (both are documented as possible, so both are served): the model endpoints write
``"YYYY-MM-DD HH:MM:SS"`` (UTC, ``timezone=UTC``); the member endpoints write Laravel's ISO-8601
``"YYYY-MM-DDTHH:MM:SS.000000Z"``.

Endpoints (``{site}`` must be ``chaturbate``; other sites know nobody: 404)
---------------------------------------------------------------------------
``GET /model/{site}/{name}/info``      ``{data: {name, rid, gender, rank, sessions {count, total_duration,
                                        average_duration} (minutes), income {tokens, usd}, tags [{name,
                                        category}]}, meta {site, range, timezone}}``; 404
                                        ``{"error": "Model not found"}``.
``GET /model/{site}/{name}/tips``      ``{data: [{time, name, did, tokens, usd}], meta {site, model {id,
                                        name, gender}, range, pagination}}``, newest first; 404 as above.
``GET /members/{site}/{name}/info``    ``{data: {name, did, first_message_date, first_tip_date,
                                        last_tip_date, last_tip_amount, last_tip_to,
                                        models_messaged_2weeks(_list), models_tipped_2weeks(_list),
                                        per_day_tokens [{date, tokens}], all_time_tokens}, meta {site,
                                        timezone}}``; 404 ``{"error": "Member not found"}``.
``GET /members/{site}/{name}/tips``    ``{data: [{time, model, rid, tokens, usd}], meta {site, member {id,
                                        name}, range, pagination}}``, newest first; 404 as above.

``range[0]`` / ``range[1]`` are ``"YYYY-MM-DD HH:MM:SS"`` UTC (default: the last 30 days up to now);
``page`` (default 1) and ``per_page`` (default 20, at most 200) page the tips with Laravel's
``pagination {total, per_page, current_page, last_page, from, to}`` (``from``/``to`` null on an empty
page). A bad ``per_page`` or range: 422 ``{"message": ..., "errors": {...}}``.

Auth and limits
---------------
``Authorization: Bearer <token>`` must equal ``Simulator.statbate_token`` (default
:data:`DEFAULT_TOKEN`, the simulator value of ``MHC_STATBATE_TOKEN``): else 401
``{"message": "Unauthenticated."}``. More than ``Simulator.statbate_rate_limit`` (default 120; 0 = off)
authenticated requests in 60 s: 429 ``{"message": "Too Many Attempts."}`` with ``Retry-After`` and
``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` (rejected requests do not count). Both attributes are
read with ``getattr``, so a test may set them on any Simulator.

Content fault ``bad_row``: one tip of the page gets ``"tokens": "lots"``. ``duplicates`` is ignored.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from .routing import Request, Response, route
from .world import World

__all__ = ["PREFIX", "DEFAULT_TOKEN", "GENDER_INTS", "model_info", "model_tips", "member_info", "member_tips",
           "is_member", "members", "rid_of", "did_of"]

PREFIX = "/statbate/api/"
DEFAULT_TOKEN = "1|sim-statbate-token-0123456789abcdef"
SITES = ("chaturbate", "stripchat", "bongacams", "camsoda", "mfc")
GENDER_INTS = {"m": 0, "f": 1, "t": 2, "c": 3}
MAX_PER_PAGE = 200
DEFAULT_DAYS = 30
_TIP_TOKENS = (1, 5, 10, 11, 15, 20, 25, 35, 50, 69, 77, 99, 100, 111, 150, 200, 222, 333, 500, 1000)
_TAG_CATEGORIES = ("general", "body", "activity", "appearance")
_PLAIN = "%Y-%m-%d %H:%M:%S"
_RANGE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_LOCK = threading.Lock()
_CACHE: dict[tuple, Any] = {}


def _h(*parts: Any) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _cached(key: tuple, make):
    with _LOCK:
        got = _CACHE.get(key)
    if got is not None:
        return got
    got = make()
    with _LOCK:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = got
    return got


# ---------------------------------------------------------------------------
# who exists


def members(world: World) -> list[str]:
    """Every StatBate member: the Events API's viewer population, then every World model."""
    def make():
        from .event_stream import EventStream

        viewers, _models = EventStream(world)._population()  # noqa: SLF001 - the same population
        return [v.username for v in viewers] + world.usernames

    return _cached((id(world), "members"), make)


def _member_set(world: World) -> frozenset[str]:
    return _cached((id(world), "member_set"), lambda: frozenset(members(world)))


def is_member(world: World, name: str) -> bool:
    return name in _member_set(world)


def rid_of(world: World, name: str) -> int:
    return 100_000 + _h(world.seed, "rid", name) % 9_000_000


def did_of(world: World, name: str) -> int:
    return 1_000 + _h(world.seed, "did", name) % 90_000_000


def _favourites(world: World, name: str) -> list[str]:
    models = world.usernames
    if not models:
        return []
    k = 1 + _h(world.seed, "nfav", name) % 4
    out: list[str] = []
    for i in range(k * 3):
        m = models[_h(world.seed, "fav", name, i) % len(models)]
        if m != name and m not in out:
            out.append(m)
        if len(out) == k:
            break
    return out


def _fans(world: World) -> dict[str, list[str]]:
    def make():
        fans: dict[str, list[str]] = {m: [] for m in world.usernames}
        for member in members(world):
            for m in _favourites(world, member):
                fans[m].append(member)
        return fans

    return _cached((id(world), "fans"), make)


def _ranks(world: World) -> dict[str, int]:
    def make():
        ordered = sorted(world.models, key=lambda m: (-m.popularity, m.username))
        return {m.username: i + 1 for i, m in enumerate(ordered)}

    return _cached((id(world), "ranks"), make)


# ---------------------------------------------------------------------------
# tips (ground truth)


def _session_tips(world: World, model: str, s: datetime, e: datetime) -> list[tuple[int, str, int]]:
    """(epoch second, member, tokens) of one broadcast session, ascending; identities unique."""
    def make():
        m = world.model(model)
        fans = _fans(world).get(model) or []
        if not fans:
            return []
        start, end = int(s.timestamp()), int(e.timestamp())
        rng = random.Random(f"{world.seed}:statbate:{model}:{start}")
        per_hour = min(2.0, 0.1 + m.popularity / 200.0)
        n = int((end - start) / 3600.0 * per_hour + rng.random())
        seen: set[tuple[int, str, int]] = set()
        for _ in range(n):
            tip = (start + rng.randrange(max(1, end - start)), fans[rng.randrange(len(fans))],
                   rng.choice(_TIP_TOKENS))
            seen.add(tip)
        return sorted(seen)

    return _cached((id(world), "session", model, int(s.timestamp())), make)


def model_tips(world: World, model: str, start: datetime, end: datetime) -> list[dict]:
    """Tips to ``model`` with start <= time <= end, newest first: ``{time (datetime), member, tokens}``."""
    out = []
    a, b = math.floor(start.timestamp()), math.floor(end.timestamp())
    for s, e in world.sessions(model, start - timedelta(days=1), end + timedelta(minutes=1)):
        for sec, member, tokens in _session_tips(world, model, s, e):
            if a <= sec <= b:
                out.append({"time": datetime.fromtimestamp(sec, UTC), "model": model, "member": member,
                            "tokens": tokens})
    out.sort(key=lambda t: (t["time"], t["member"], t["tokens"]), reverse=True)
    return out


def member_tips(world: World, member: str, start: datetime, end: datetime) -> list[dict]:
    """Tips by ``member`` with start <= time <= end, newest first (same dicts as :func:`model_tips`)."""
    out = [t for m in _favourites(world, member) for t in model_tips(world, m, start, end) if t["member"] == member]
    out.sort(key=lambda t: (t["time"], t["model"], t["tokens"]), reverse=True)
    return out


def _plain(t: datetime) -> str:
    return t.astimezone(UTC).strftime(_PLAIN)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def model_info(world: World, model: str, start: datetime, end: datetime) -> dict:
    m = world.model(model)
    durations = []
    for s, e in world.sessions(model, start, end):
        s, e = max(s, start), min(e, end)
        if e > s:
            durations.append(int((e - s).total_seconds() // 60))
    tokens = sum(t["tokens"] for t in model_tips(world, model, start, end))
    return {
        "name": model,
        "rid": rid_of(world, model),
        "gender": GENDER_INTS[m.gender],
        "rank": _ranks(world)[model],
        "sessions": {"count": len(durations), "total_duration": sum(durations),
                     "average_duration": sum(durations) // len(durations) if durations else 0},
        "income": {"tokens": tokens, "usd": round(tokens * 0.05, 2)},
        "tags": [{"name": tag, "category": _TAG_CATEGORIES[_h(tag) % len(_TAG_CATEGORIES)]} for tag in m.tags],
    }


def member_info(world: World, member: str, now: datetime) -> dict:
    tips = member_tips(world, member, now - timedelta(days=60), now)
    two_weeks = [t for t in tips if t["time"] > now - timedelta(days=14)]
    first = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(seconds=_h(world.seed, "first", member) % (600 * 86400))
    tipped = sorted({t["model"] for t in two_weeks})
    messaged = sorted(set(tipped) | set(_favourites(world, member)[:1]))
    per_day: dict[str, int] = {}
    for t in two_weeks:
        day = t["time"].date().isoformat()
        per_day[day] = per_day.get(day, 0) + t["tokens"]
    last = tips[0] if tips else None
    return {
        "name": member,
        "did": did_of(world, member),
        "first_message_date": _iso(first - timedelta(minutes=3)),
        "first_tip_date": _iso(first),
        "last_tip_date": _iso(last["time"]) if last else None,
        "last_tip_amount": last["tokens"] if last else 0,
        "last_tip_to": last["model"] if last else None,
        "models_messaged_2weeks": len(messaged),
        "models_messaged_2weeks_list": messaged,
        "models_tipped_2weeks": len(tipped),
        "models_tipped_2weeks_list": tipped,
        "per_day_tokens": [{"date": d, "tokens": per_day[d]} for d in sorted(per_day)],
        "all_time_tokens": sum(t["tokens"] for t in tips) + _h(world.seed, "base", member) % 50_000,
    }


# ---------------------------------------------------------------------------
# HTTP


def _error(message: str, status: int) -> Response:
    return Response.json({"error": message}, status)


def _unprocessable(field: str, message: str) -> Response:
    return Response.json({"message": message, "errors": {field: [message]}}, 422)


def _auth_and_limit(req: Request) -> Response | None:
    sim = req.sim
    token = getattr(sim, "statbate_token", DEFAULT_TOKEN)
    auth = req.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or auth[7:].strip() != token:
        return Response.json({"message": "Unauthenticated."}, 401)
    limit = int(getattr(sim, "statbate_rate_limit", 120) or 0)
    if limit <= 0:
        return None
    state = req.state("statbate")
    with sim._state_lock:  # noqa: SLF001 - one lock for every source's small state
        window: deque = state.setdefault("window", deque())
        state.setdefault("limited", 0)
        mono = time.monotonic()
        while window and mono - window[0] >= 60.0:
            window.popleft()
        if len(window) >= limit:
            state["limited"] += 1
            retry = max(1, math.ceil(60.0 - (mono - window[0])))
            return Response.json({"message": "Too Many Attempts."}, 429, {
                "Retry-After": str(retry), "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"})
        window.append(mono)
    return None


def _range(req: Request) -> tuple[datetime, datetime] | Response:
    raw0, raw1 = req.arg("range[0]"), req.arg("range[1]")
    end = req.now
    start = end - timedelta(days=DEFAULT_DAYS)
    for i, raw in ((0, raw0), (1, raw1)):
        if raw is None:
            continue
        if not _RANGE_RE.match(raw.strip()):
            return _unprocessable(f"range.{i}", f"The range.{i} field must match the format Y-m-d H:i:s.")
        t = datetime.strptime(raw.strip(), _PLAIN).replace(tzinfo=UTC)
        if i == 0:
            start = t
        else:
            end = t
    if end < start:
        return _unprocessable("range.1", "The range.1 field must be a date after or equal to range.0.")
    return start, min(end, req.now)


def _paging(req: Request) -> tuple[int, int] | Response:
    try:
        page = int(req.arg("page", "1") or 1)
        per_page = int(req.arg("per_page", "20") or 20)
    except ValueError:
        return _unprocessable("per_page", "The page and per_page fields must be integers.")
    if per_page < 1 or per_page > MAX_PER_PAGE:
        return _unprocessable("per_page", f"The per page field must be between 1 and {MAX_PER_PAGE}.")
    if page < 1:
        return _unprocessable("page", "The page field must be at least 1.")
    return page, per_page


def _page(rows: list[dict], page: int, per_page: int) -> tuple[list[dict], dict]:
    total = len(rows)
    chunk = rows[(page - 1) * per_page: page * per_page]
    first = (page - 1) * per_page + 1
    return chunk, {"total": total, "per_page": per_page, "current_page": page,
                   "last_page": max(1, math.ceil(total / per_page)),
                   "from": first if chunk else None, "to": first + len(chunk) - 1 if chunk else None}


def _bad_row(req: Request, data: list[dict]) -> None:
    if req.fault is not None and req.fault.kind == "bad_row" and data:
        data[len(data) // 2]["tokens"] = "lots"


@route("GET", PREFIX, source="statbate")
def api(req: Request) -> Response:
    refused = _auth_and_limit(req)
    if refused is not None:
        return refused
    parts = [p for p in req.path[len(PREFIX):].split("/") if p]
    if len(parts) != 4 or parts[0] not in ("model", "members") or parts[3] not in ("info", "tips"):
        return Response.json({"message": f"The route {req.path} could not be found."}, 404)
    kind, site, name, what = parts[0], parts[1].lower(), parts[2].strip().lower(), parts[3]
    if site not in SITES:
        return _unprocessable("site", "The selected site is invalid.")
    world = req.world
    tz = req.arg("timezone", "UTC") or "UTC"
    if kind == "model":
        if site != "chaturbate" or name not in world:
            return _error("Model not found", 404)
    elif site != "chaturbate" or not is_member(world, name):
        return _error("Member not found", 404)
    rng = _range(req)
    if isinstance(rng, Response):
        return rng
    start, end = rng
    meta_range = [_plain(start), _plain(end)]
    if what == "info":
        if kind == "model":
            return Response.json({"data": model_info(world, name, start, end),
                                  "meta": {"site": site, "range": meta_range, "timezone": tz}})
        return Response.json({"data": member_info(world, name, req.now), "meta": {"site": site, "timezone": tz}})
    paging = _paging(req)
    if isinstance(paging, Response):
        return paging
    page, per_page = paging
    if kind == "model":
        tips = model_tips(world, name, start, end)
        chunk, pagination = _page(tips, page, per_page)
        data = [{"time": _plain(t["time"]), "name": t["member"], "did": did_of(world, t["member"]),
                 "tokens": t["tokens"], "usd": round(t["tokens"] * 0.05, 2)} for t in chunk]
        _bad_row(req, data)
        m = world.model(name)
        meta = {"site": site, "model": {"id": rid_of(world, name), "name": name, "gender": GENDER_INTS[m.gender]},
                "range": meta_range, "pagination": pagination}
        return Response.json({"data": data, "meta": meta})
    tips = member_tips(world, name, start, end)
    chunk, pagination = _page(tips, page, per_page)
    data = [{"time": _iso(t["time"]), "model": t["model"], "rid": rid_of(world, t["model"]),
             "tokens": t["tokens"], "usd": round(t["tokens"] * 0.05, 2)} for t in chunk]
    _bad_row(req, data)
    meta = {"site": site, "member": {"id": did_of(world, name), "name": name}, "range": meta_range,
            "pagination": pagination}
    return Response.json({"data": data, "meta": meta})
