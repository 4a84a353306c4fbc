"""Simulated Chaturbate Affiliate API: ``GET /api/public/affiliates/onlinerooms/`` (sources.md §1).

Parameters: ``wm`` (required), ``client_ip`` (required: an IP literal or
``request_ip``), ``format`` (only ``json``), ``limit`` (default 100, clamped to
1..500), ``offset`` (>= 0), repeated ``gender``, ``region`` and ``tag``,
``hd`` (true/false), ``exhibitionist`` (accepted, ignored).

Filter semantics: values of one repeated parameter are OR-ed (``gender=f&gender=c``
= f or c); different parameters are AND-ed; repeated ``tag`` values are
AND-ed (the room must carry **every** given tag; the real semantics are
undocumented).

Response: ``{"results": [...], "count": N}`` where ``count`` is the number of
matching rooms.

Order: by ``num_users`` desc with jitter: room ``i`` of the true order is
sorted by ``i + order_jitter * u`` with ``u`` in [-1, 1) hashed from
(username, salt) (``Simulator.order_jitter``, default 5.0 positions; 0 gives
the strict order num_users desc, username asc).  With 5.0 about a quarter of
adjacent pairs near the top of a response are out of ``num_users`` order (the
real feed shows ~40%).  The salt (``Simulator.order_salt``):

* ``"time"`` (default): the request's simulated time in ms.  With a running
  clock every request gets a new order, so offset paging duplicates and skips
  a few rooms near each page boundary (~2% of rooms with 50-room pages) like
  the real feed; under a frozen clock (or the same ``X-Sim-Time``) the world
  does not move, the order is the same on every call and a crawl is complete.
* ``"request"``: the request counter: the order moves on every call, even
  under a frozen clock (to test dedupe and skips deterministically).

Errors: 400 ``text/plain`` for a missing/invalid ``wm``, ``client_ip``,
``limit``, ``offset``, ``hd`` or an unsupported ``format``.

Content faults: ``bad_row`` (row ``len//3`` loses ``username``, row
``2*len//3`` gets ``num_users: "lots"``), ``duplicates`` (the last ``n`` rooms
of the previous page served by this endpoint are put in front of this page's
results, so ``results`` may hold ``limit + n`` rows; on the first request the
page's own first ``n`` rooms are repeated).
"""

from __future__ import annotations

import ipaddress
import math

from .routing import Request, Response, route
from .world import finish_room

PATH = "/api/public/affiliates/onlinerooms/"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_HEADERS = {"Cache-Control": "max-age=30,public,must-revalidate,s-maxage=1800", "Vary": "Accept-Encoding"}


def _bad(msg: str) -> Response:
    return Response.text(msg, 400)


def _int(req: Request, name: str, default: int) -> int | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


@route("GET", PATH, source="affiliate")
def onlinerooms(req: Request) -> Response:
    wm = req.arg("wm")
    if not wm:
        return _bad("Missing required parameter: wm")
    client_ip = req.arg("client_ip")
    if not client_ip:
        return _bad("Missing required parameter: client_ip")
    if client_ip != "request_ip":
        try:
            ipaddress.ip_address(client_ip)
        except ValueError:
            return _bad("client_ip must be an IP address or 'request_ip'")
    fmt = (req.arg("format") or "json").lower()
    if fmt != "json":
        return _bad(f"format {fmt!r} is not supported by the simulator (use format=json)")
    limit = _int(req, "limit", DEFAULT_LIMIT)
    offset = _int(req, "offset", 0)
    if limit is None:
        return _bad("limit must be an integer")
    if offset is None or offset < 0:
        return _bad("offset must be a non-negative integer")
    limit = max(1, min(MAX_LIMIT, limit))
    hd_raw = req.arg("hd")
    hd: bool | None = None
    if hd_raw:
        if hd_raw.lower() in ("true", "1"):
            hd = True
        elif hd_raw.lower() in ("false", "0"):
            hd = False
        else:
            return _bad("hd must be true or false")

    world = req.world
    genders = set(req.args("gender"))
    regions = set(req.args("region"))
    tags = [t.lower() for t in req.args("tag") if t]
    entries = world.minute_entries(req.now, wm)
    if genders or regions or tags or hd is not None:
        def keep(room: dict) -> bool:
            if genders and room["gender"] not in genders:
                return False
            if hd is not None and room["is_hd"] is not hd:
                return False
            if regions and world.model(room["username"]).region not in regions:
                return False
            return all(t in room["tags"] for t in tags)

        entries = [e for e in entries if keep(e[0])]
    count = len(entries)

    jitter = float(req.sim.order_jitter)
    if jitter > 0 and count > 1:
        # "time": the order moves as simulated time moves (every request of a running clock;
        # never under a frozen clock or a repeated X-Sim-Time); "request": every request moves it
        seq = req.seq if req.sim.order_salt == "request" else math.floor(req.now.timestamp() * 1000)
        # the same order for the same (minute, filters, salt) is computed once: a crawl under a frozen
        # clock pages through one cached order, as the real feed serves a cached list (max-age=30)
        key = (math.floor(req.now.timestamp() // 60), wm, tuple(sorted(genders)), tuple(sorted(regions)),
               tuple(tags), hd, seq, jitter)
        cache = req.state("affiliate").setdefault("order_cache", {})
        ordered = cache.get(key)
        if ordered is None:
            noise = world.jitter_noise
            keyed = [(i + jitter * noise(e[0]["username"], seq), e) for i, e in enumerate(entries)]
            keyed.sort(key=lambda k: k[0])
            ordered = [e for _, e in keyed]
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = ordered
        entries = ordered

    now_epoch = math.floor(req.now.timestamp())
    state = req.state("affiliate")
    fault = req.fault
    # identical requests within the same second get the same bytes (the real feed is served from a
    # cache too: max-age=30, s-maxage=1800); faulted requests are never cached
    page_key = (wm, tuple(sorted(genders)), tuple(sorted(regions)), tuple(tags), hd, offset, limit, now_epoch,
                jitter, req.sim.order_salt,
                req.seq if req.sim.order_salt == "request" else math.floor(req.now.timestamp() * 1000))
    pages = state.setdefault("page_cache", {})
    if fault is None and page_key in pages:
        body, results = pages[page_key]
        state["last_page"] = results
        return Response(body=body, headers=dict(_HEADERS))

    results = [finish_room(core, start, now_epoch) for core, start in entries[offset:offset + limit]]

    previous: list[dict] = state.get("last_page") or []
    state["last_page"] = [dict(r) for r in results]
    if fault is not None and fault.kind == "duplicates":
        n = int(fault.params.get("n", 3))
        source = previous[-n:] if previous else results[:n]
        dups = []
        for old in source:
            fresh = world.room(old["username"], req.now, wm) if old.get("username") in world else None
            dups.append(fresh if fresh is not None else dict(old, tags=list(old.get("tags", []))))
        results = dups + results
    elif fault is not None and fault.kind == "bad_row" and results:
        i, j = len(results) // 3, (2 * len(results)) // 3
        results[i].pop("username", None)
        if j != i:
            results[j]["num_users"] = "lots"

    response = Response.json({"results": results, "count": count}, headers=dict(_HEADERS))
    if fault is None:
        if len(pages) >= 256:
            pages.pop(next(iter(pages)))
        pages[page_key] = (response.body, state["last_page"])
    return response
