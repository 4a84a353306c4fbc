"""Simulated CBHours API: ``GET /api.php?action=...`` (sources.md §5), from the Affiliate feed's World.

Actions
-------
``get_live&usernames=a,b,c`` (max 50 names)
    ``{"server_status": "up", "data": {name: room}}``.  An online room is
    ``{"room_status": "Online", "gender": "Female"|"Male"|"Trans"|"Couple", "rank", "grank", "viewers",
    "followers", "current_show", "room_subject", "tags", "is_new"}`` with the Affiliate room's values at
    that minute (viewers = num_users, followers = num_followers); ``rank`` is the position by viewers
    among all online rooms, ``grank`` within the gender (:meth:`World.live_ranks`).  Offline:
    ``{"room_status": "Offline"}``.  Models not in the trophy database (:meth:`World.in_trophy_db`) and
    unknown usernames are omitted from ``data``.  Names are case-insensitive (keys are lower case).

``get_activity&domain=cbhours&username=U&start_date=YYYY-MM-DD&end_date=YYYY-MM-DD&tzo=N[&include_details=true]``
    Dates are LOCAL dates (local = UTC + ``tzo`` minutes), inclusive, at most 60 of them
    (``end - start <= 59 days``).  One 3-minute slot per UTC minute with ``minute % 3 == 0`` during
    which the model is online (:meth:`World.sessions`), from :meth:`World.cbhours_since` up to the
    request's time (no future slots).  ``activity`` counts 3 minutes per slot per local day;
    ``details`` (with ``include_details=true``) has one segment per slot: ``timestamp`` local
    ``YYYY-MM-DDTHH:MM``, ``type`` ``_public`` (public and away) / ``_private`` / ``_ticket`` (hidden) /
    ``_group``, and ``rank``, ``grank``, ``followers``, ``viewers`` as strings of digits, ``gender`` a
    letter.  The first slot of a session has ``viewers``, ``rank`` and ``grank`` ``"0"`` (CBHours saw
    the room before it was counted); other slots have the world's viewers and followers at that minute
    (equal to the Affiliate room's); history ranks come from :meth:`World.rank_estimate`.
    ``domain`` must be cbhours, striphours or sodahours (case-insensitive); the latter two answer
    ``Error Code:300`` (the world is Chaturbate's).

``get_months&domain=cbhours&username=U``
    A bare JSON array of ``"YYYY-MM"`` (UTC months with at least one slot), newest first.

Errors: ALWAYS HTTP 200 with ``{"status": "error", "message": ...}`` (like the real ``Error Code:300``):
missing/unknown ``action``, missing/invalid parameters, too many usernames, a range over 60 days, and
``Error Code:300 ...`` for a model that is not in the trophy database (or unknown).

Rate limit: more than one request per second (globally: the simulator has one client IP) is a
"temporary block": a request less than ``Simulator.cbhours_min_interval`` (0.9 s) after the previous
one starts a block of ``Simulator.cbhours_block_seconds`` (2 s); requests during a block (and the
violating one) get HTTP 429, ``text/plain``, ``Retry-After: 2``.  Every request (also a blocked one)
counts as "the previous request".  ``Simulator.cbhours_rate_limit = False`` switches it off (requests
made while it is off are not remembered).
Violations are recorded in ``sim.source_state("cbhours")["violations"]`` (a list of dicts) and
blocked requests counted in ``["blocked"]``.

Content fault ``bad_row``: one live room / one detail segment gets ``"viewers": "lots"``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .people import DAY_MIN, GENDER_WORDS, _minute_of
from .routing import Request, Response, route
from .world import World

__all__ = ["PATH", "ERROR_300", "live_data", "activity", "months", "MAX_NAMES", "MAX_RANGE_DAYS"]

PATH = "/api.php"
MAX_NAMES = 50
MAX_RANGE_DAYS = 60
DOMAINS = ("cbhours", "striphours", "sodahours")
ERROR_300 = ("Error Code:300 To use this api please add a trophy/calendar to the models bio and then use the "
             "STUDIO search successfully one time.")
_SEGMENT_TYPE = {"public": "_public", "away": "_public", "private": "_private", "hidden": "_ticket",
                 "group": "_group"}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH_DAY = date(1970, 1, 1)
_HHMM = tuple(f"T{m // 60:02d}:{m % 60:02d}" for m in range(DAY_MIN))
_BLOCK_BODY = "Too many requests: temporary block (max 1 request per second). Slow down."


def _error(message: str) -> dict:
    return {"status": "error", "message": message}


# ---------------------------------------------------------------------------
# truth functions (also used by tests as the ground truth)


def live_data(world: World, usernames: list[str], t: datetime, bad_row: bool = False) -> dict[str, dict]:
    """The ``data`` object of ``get_live`` for ``usernames`` at ``t``."""
    ranks = None
    data: dict[str, dict] = {}
    for raw in usernames:
        name = raw.strip().lower()
        if not name or name in data or name not in world or not world.in_trophy_db(name):
            continue
        lv = world.live_state(name, t)
        if lv is None:
            data[name] = {"room_status": "Offline"}
            continue
        if ranks is None:
            ranks = world.live_ranks(t)
        m = world.model(name)
        rank, grank = ranks[name]
        data[name] = {
            "room_status": "Online",
            "gender": GENDER_WORDS[m.gender],
            "rank": rank,
            "grank": grank,
            "viewers": lv.num_users,
            "followers": lv.num_followers,
            "current_show": lv.current_show,
            "room_subject": lv.room_subject,
            "tags": list(lv.tags),
            "is_new": m.is_new,
        }
    if bad_row:
        online = [n for n, r in data.items() if r["room_status"] == "Online"]
        if online:
            data[online[len(online) // 2]]["viewers"] = "lots"
    return data


def _day_labels(day: int) -> tuple[str, str]:
    d = _EPOCH_DAY + timedelta(days=day)
    return d.isoformat(), _WEEKDAYS[d.weekday()]


def activity(world: World, username: str, start_date: date, end_date: date, tzo: int, now: datetime,
             details: bool = True, bad_row: bool = False) -> dict[str, Any]:
    """``activity``, ``total_time`` and (``details``) ``details`` of ``get_activity`` (no validation)."""
    m = world.model(username)
    now_min, _ = _minute_of(now)
    since_min, _ = _minute_of(world.cbhours_since(username))
    start_local = (start_date - _EPOCH_DAY).days * DAY_MIN
    end_local = ((end_date - _EPOCH_DAY).days + 1) * DAY_MIN  # exclusive
    lo = max(start_local - tzo, since_min)
    hi = min(end_local - tzo, now_min + 1)  # slots at minutes lo <= minute < hi
    per_day: dict[int, int] = {}
    out_details: dict[str, list] = {}
    if hi > lo:
        gender = m.gender
        labels: dict[int, str] = {}
        refs: dict[int, tuple] = {}
        reference = world._reference  # noqa: SLF001 - the rank estimate, inlined below
        sessions = world.sessions(username, datetime.fromtimestamp(lo * 60, UTC),
                                  datetime.fromtimestamp(hi * 60, UTC))
        for s_dt, e_dt in sessions:
            s = int(s_dt.timestamp()) // 60
            e = int(e_dt.timestamp()) // 60
            first = s + (-s % 3)
            minutes = range(max(first, lo + (-lo % 3)), min(e, hi), 3)
            if not details:
                for minute in minutes:
                    day = (minute + tzo) // DAY_MIN
                    per_day[day] = per_day.get(day, 0) + 1
                continue
            segs: list | None = None
            seg_day = None
            for minute, show, viewers, followers in world.session_slots(username, s, minutes):
                local = minute + tzo
                day = local // DAY_MIN
                if day != seg_day:
                    seg_day = day
                    iso = labels.get(day)
                    if iso is None:
                        iso = labels[day] = _day_labels(day)[0]
                        out_details[iso] = []
                    segs = out_details[iso]
                per_day[day] = per_day.get(day, 0) + 1
                if minute == first:
                    viewers = rank = grank = 0
                else:
                    hour = (minute % DAY_MIN) // 60
                    ref = refs.get(hour)
                    if ref is None:
                        every, by_gender, step = reference(hour)
                        ref = refs[hour] = (every, len(every), by_gender.get(gender, []),
                                            len(by_gender.get(gender, [])), step)
                    every, n_all, glist, n_g, step = ref
                    rank = 1 + (n_all - bisect_right(every, viewers)) * step
                    grank = min(rank, 1 + (n_g - bisect_right(glist, viewers)) * step)
                segs.append({  # type: ignore[union-attr]
                    "timestamp": iso + _HHMM[local - day * DAY_MIN],
                    "type": _SEGMENT_TYPE[show],
                    "rank": str(rank),
                    "followers": str(followers),
                    "viewers": str(viewers),
                    "gender": gender,
                    "grank": str(grank),
                })
    act: dict[str, str] = {}
    total = 0
    for day in sorted(per_day):
        mins = per_day[day] * 3
        total += mins
        iso, wd = _day_labels(day)
        act[iso] = f"{iso} {wd} - {mins // 60:02d} Hours {mins % 60:02d} Minutes"
    out: dict[str, Any] = {"activity": act, "total_time": {"hours": total // 60, "minutes": total % 60}}
    if details:
        if bad_row and out_details:
            segs = next(iter(out_details.values()))
            segs[len(segs) // 2]["viewers"] = "lots"
        out["details"] = out_details
    return out


def months(world: World, username: str, now: datetime) -> list[str]:
    """``get_months``: UTC months ``YYYY-MM`` with at least one slot, newest first."""
    now_min, _ = _minute_of(now)
    since = world.cbhours_since(username)
    since_min, _ = _minute_of(since)
    if now_min < since_min:
        return []
    found: set[str] = set()
    for s_dt, e_dt in world.sessions(username, since, datetime.fromtimestamp((now_min + 1) * 60, UTC)):
        s = max(int(s_dt.timestamp()) // 60, since_min)
        e = min(int(e_dt.timestamp()) // 60, now_min + 1)
        first = s + (-s % 3)
        last = e - 1 - ((e - 1) % 3)
        if first > last:
            continue
        for minute in (first, last):
            found.add(datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m"))
    return sorted(found, reverse=True)


# ---------------------------------------------------------------------------
# HTTP


def _rate_limited(req: Request) -> Response | None:
    sim = req.sim
    state = req.state("cbhours")
    with sim._state_lock:  # noqa: SLF001 - one lock for every source's small state
        state.setdefault("violations", [])
        state.setdefault("blocked", 0)
        if not getattr(sim, "cbhours_rate_limit", True):
            state.pop("last_mono", None)  # switched on again, the limiter starts afresh
            state.pop("block_until", None)
            return None
        mono = time.monotonic()
        last = state.get("last_mono")
        state["last_mono"] = mono
        until = state.get("block_until", 0.0)
        if last is not None and mono - last < float(sim.cbhours_min_interval):
            state["violations"].append({"at": datetime.now(UTC).isoformat(),
                                        "interval": round(mono - last, 4),
                                        "action": req.arg("action"), "seq": req.seq})
            until = state["block_until"] = mono + float(sim.cbhours_block_seconds)
        if mono < until:
            state["blocked"] += 1
            retry = max(1, math.ceil(until - mono))
            return Response.text(_BLOCK_BODY, 429, {"Retry-After": str(retry)})
    return None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@route("GET", PATH, source="cbhours")
def api(req: Request) -> Response:
    blocked = _rate_limited(req)
    if blocked is not None:
        return blocked
    started = time.perf_counter()
    action = (req.arg("action") or "").strip()
    world = req.world
    bad_row = req.fault is not None and req.fault.kind == "bad_row"
    if not action:
        return Response.json(_error("Missing action"))
    if action == "get_live":
        raw = req.arg("usernames") or ""
        names = [n for n in raw.split(",") if n.strip()]
        if not names:
            return Response.json(_error("Missing usernames"))
        if len(names) > MAX_NAMES:
            return Response.json(_error(f"Too many usernames (max {MAX_NAMES})"))
        return Response.json({"server_status": "up", "data": live_data(world, names, req.now, bad_row)})
    if action not in ("get_activity", "get_months"):
        return Response.json(_error(f"Unknown action: {action}"))

    domain = (req.arg("domain") or "").strip().lower()
    username = (req.arg("username") or "").strip().lower()
    if not domain:
        return Response.json(_error("Missing domain"))
    if domain not in DOMAINS:
        return Response.json(_error(f"Invalid domain: {domain}"))
    if not username:
        return Response.json(_error("Missing username"))
    if action == "get_activity":
        start, end = _date(req.arg("start_date")), _date(req.arg("end_date"))
        if start is None or end is None:
            return Response.json(_error("Missing or invalid start_date/end_date (YYYY-MM-DD)"))
        tzo_raw = req.arg("tzo")
        try:
            tzo = int(str(tzo_raw).strip())
        except ValueError:
            return Response.json(_error("Missing or invalid tzo (minutes from GMT)"))
        if not -14 * 60 <= tzo <= 14 * 60:
            return Response.json(_error("Invalid tzo (minutes from GMT)"))
        if end < start:
            return Response.json(_error("end_date is before start_date"))
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            return Response.json(_error(f"Date range too large (max {MAX_RANGE_DAYS} days)"))
    if domain != "cbhours" or not world.in_trophy_db(username):
        return Response.json(_error(ERROR_300))
    if action == "get_months":
        return Response.json(months(world, username, req.now))

    details = (req.arg("include_details") or "").strip().lower() in ("true", "1", "yes")
    body = activity(world, username, start, end, tzo, req.now, details, bad_row)
    out = {"response_time": "", "status": True, "model": username, "serverStatus": True, "serverMessage": "",
           **body}
    out["response_time"] = f"{time.perf_counter() - started:.16f} seconds"
    return Response.json(out)
