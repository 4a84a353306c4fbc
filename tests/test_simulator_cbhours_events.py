"""The simulator's CBHours API and Events API: real HTTP on 127.0.0.1, one World behind every source."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mhc_pipeline.simulator import Simulator, World
from mhc_pipeline.simulator import cbhours as cbh

T = datetime(2025, 6, 1, 12, 0, 30, tzinfo=UTC)
AFF = "/api/public/affiliates/onlinerooms/"
CBH = "/api.php"
TOKEN = "sim-events-token-0123456789"
WORDS = {"f": "Female", "m": "Male", "t": "Trans", "c": "Couple"}
LIVE_KEYS = ["room_status", "gender", "rank", "grank", "viewers", "followers", "current_show", "room_subject",
             "tags", "is_new"]
SEG_KEYS = ["timestamp", "type", "rank", "followers", "viewers", "gender", "grank"]
USER_KEYS = ["username", "inFanclub", "hasTokens", "isMod", "recentTips", "gender", "subgender"]
EXTRA_KEYS = {"colorGroup", "fcAutoRenew", "hasDarkmode", "inPrivateShow", "isBroadcasting", "isFollower",
              "isOwner", "isSilenced", "isSpying", "language"}
METHODS = {"broadcastStart", "broadcastStop", "userEnter", "userLeave", "follow", "unfollow", "fanclubJoin",
           "chatMessage", "privateMessage", "tip", "mediaPurchase", "roomSubjectChange"}
ERROR_300 = {"status": "error",
             "message": "Error Code:300 To use this api please add a trophy/calendar to the models bio and then "
                        "use the STUDIO search successfully one time."}


def key(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


@pytest.fixture(scope="module")
def sim():
    with Simulator(rooms=60, seed=5) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(sim):
    sim.clear_faults()
    sim.set_time(T)
    sim.time_scale = 1.0
    sim.cbhours_rate_limit = False
    sim.source_state("cbhours").clear()
    sim.events_waited_too_long = False
    sim.events_rate_limit = 2000
    sim.reset_events()
    yield
    sim.set_time(T)
    sim.time_scale = 1.0


@pytest.fixture()
def http():
    with requests.Session() as s:
        yield s


def cb(http, sim, **params):
    return http.get(sim.url + CBH, params=params, timeout=10)


def ev_url(sim, user=None, token=TOKEN) -> str:
    return f"{sim.url}/events/{user or sim.world.owner}/{token}/"


def owner_session(sim, after: datetime, min_minutes: int = 60) -> tuple[datetime, datetime]:
    """The owner's first whole session starting after ``after`` that lasts at least ``min_minutes``
    and has a room subject (~8% of sessions have none, and so no roomSubjectChange)."""
    w = sim.world
    for s, e in w.sessions(w.owner, after, after + timedelta(days=4)):
        if s > after and e - s >= timedelta(minutes=min_minutes) and w.live_state(w.owner, s).room_subject:
            return s, e
    raise AssertionError("no owner session")


def owner_online_at(sim) -> datetime:
    s, e = owner_session(sim, T - timedelta(days=1))
    return s + timedelta(minutes=40, seconds=17)


# ---------------------------------------------------------------------------
# World


def test_trophy_db_is_a_stable_85_percent():
    w = World(rooms=2000, seed=3)
    inside = [u for u in w.usernames if w.in_trophy_db(u)]
    assert 0.82 <= len(inside) / 2000 <= 0.88
    again = World(rooms=2000, seed=3)
    assert inside == [u for u in again.usernames if again.in_trophy_db(u)]
    assert w.in_trophy_db(w.owner) and not w.in_trophy_db("nobody_at_all")


def test_session_slots_equal_live_values():
    w = World(rooms=40, seed=9)
    n = 0
    for u in w.usernames[:12]:
        for s, e in w.sessions(u, T - timedelta(days=2), T):
            s_min, e_min = int(s.timestamp()) // 60, int(e.timestamp()) // 60
            for minute, show, viewers, followers in w.session_slots(u, s_min, range(s_min, e_min, 7)):
                lv = w.live_state(u, datetime.fromtimestamp(minute * 60, UTC))
                assert (lv.current_show, lv.num_users, lv.num_followers) == (show, viewers, followers)
                n += 1
    assert n > 500


# ---------------------------------------------------------------------------
# CBHours get_live


def test_get_live_matches_the_affiliate_feed(sim, http):
    w = sim.world
    names = w.usernames  # 60 names: two requests of at most 50
    data: dict = {}
    for chunk in (names[:50], names[50:] + ["nobody_here", names[3].upper()]):
        r = cb(http, sim, action="get_live", usernames=",".join(chunk))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body["server_status"] == "up" and set(body) == {"server_status", "data"}
        data.update(body["data"])
    rooms = http.get(sim.url + AFF, params={"wm": "x1", "client_ip": "request_ip", "limit": 500},
                     timeout=10).json()["results"]
    aff = {r["username"]: r for r in rooms}
    assert set(data) == {u for u in names if w.in_trophy_db(u)}  # non-trophy and unknown names omitted
    assert any(not w.in_trophy_db(u) for u in names)
    truth_order = sorted(aff.values(), key=lambda r: (-r["num_users"], r["username"]))
    rank = {r["username"]: i + 1 for i, r in enumerate(truth_order)}
    online = 0
    for u, entry in data.items():
        if u not in aff:
            assert entry == {"room_status": "Offline"}
            continue
        online += 1
        a = aff[u]
        assert list(entry) == LIVE_KEYS and entry["room_status"] == "Online"
        assert entry["gender"] == WORDS[a["gender"]]
        assert (entry["viewers"], entry["followers"]) == (a["num_users"], a["num_followers"])
        assert (entry["current_show"], entry["room_subject"], entry["tags"], entry["is_new"]) == (
            a["current_show"], a["room_subject"], a["tags"], a["is_new"])
        assert entry["rank"] == rank[u]
        same_gender = [r["username"] for r in truth_order if r["gender"] == a["gender"]]
        assert entry["grank"] == same_gender.index(u) + 1 <= entry["rank"]
        assert all(type(entry[k]) is int for k in ("rank", "grank", "viewers", "followers"))
    assert online > 5 and len(data) - online > 5
    # online in CBHours <=> online in the Affiliate feed (for trophy models)
    cb_online = {u for u, e in data.items() if e["room_status"] == "Online"}
    assert cb_online == {u for u in aff if w.in_trophy_db(u)}
    assert data == cbh.live_data(w, names, T)


def test_get_live_cap_and_errors(sim, http):
    names = sim.world.usernames
    r = cb(http, sim, action="get_live", usernames=",".join(names[:51]))
    assert r.status_code == 200 and r.json() == {"status": "error", "message": "Too many usernames (max 50)"}
    assert cb(http, sim, action="get_live", usernames=",".join(names[:50])).json()["server_status"] == "up"
    for params in ({"action": "get_live"}, {"action": "nope"}, {}, {"action": "get_activity"}):
        r = cb(http, sim, **params)
        assert r.status_code == 200 and r.json()["status"] == "error" and r.json()["message"]


# ---------------------------------------------------------------------------
# CBHours get_activity / get_months


def trophy_model(sim) -> str:
    w = sim.world
    return next(u for u in w.usernames[5:]
                if w.in_trophy_db(u) and len(w.sessions(u, T - timedelta(days=3), T)) >= 3)


def activity(http, sim, user, start, end, tzo=0, details="true"):
    return cb(http, sim, action="get_activity", domain="cbhours", username=user, start_date=str(start),
              end_date=str(end), tzo=tzo, include_details=details)


def test_get_activity_details(sim, http):
    w = sim.world
    u = trophy_model(sim)
    start, end = T.date() - timedelta(days=9), T.date()
    r = activity(http, sim, u, start, end)
    body = r.json()
    assert r.status_code == 200
    assert list(body) == ["response_time", "status", "model", "serverStatus", "serverMessage", "activity",
                          "total_time", "details"]
    assert re.fullmatch(r"0\.\d{16} seconds", body["response_time"])
    assert body["status"] is True and body["model"] == u and body["serverStatus"] is True
    assert body["serverMessage"] == ""
    segs = [s for day in body["details"].values() for s in day]
    zeros = 0
    for day, day_segs in body["details"].items():
        for s in day_segs:
            assert list(s) == SEG_KEYS and s["timestamp"].startswith(day + "T")
            assert all(re.fullmatch(r"\d+", s[k]) for k in ("rank", "grank", "followers", "viewers"))
            assert s["type"] in {"_public", "_private", "_ticket", "_group"}
            assert s["gender"] == w.model(u).gender
            t = datetime.fromisoformat(s["timestamp"]).replace(tzinfo=UTC)
            assert t.minute % 3 == 0 and t <= T and w.is_online(u, t)  # 3-minute cadence, no future slots
            lv = w.live_state(u, t)
            assert s["followers"] == str(lv.num_followers)
            if w.session_start(u, t) > t - timedelta(minutes=3):  # the first slot of a session: "0"
                zeros += 1
                assert s["viewers"] == s["rank"] == s["grank"] == "0"
            else:
                assert s["viewers"] == str(lv.num_users)  # the Affiliate room's num_users
                assert 1 <= int(s["grank"]) <= int(s["rank"])
            shown = {"public": "_public", "away": "_public", "private": "_private", "hidden": "_ticket",
                     "group": "_group"}
            assert s["type"] == shown[lv.current_show]
        # activity = 3 minutes per segment
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) - (\d{2}) Hours (\d{2}) Minutes",
                         body["activity"][day])
        assert m and m.group(1) == day and m.group(2) == date.fromisoformat(day).strftime("%a")
        assert int(m.group(3)) * 60 + int(m.group(4)) == 3 * len(day_segs)
    assert zeros >= 3 and set(body["activity"]) == set(body["details"])
    assert body["total_time"]["hours"] * 60 + body["total_time"]["minutes"] == 3 * len(segs)
    # every 3-minute slot of the world's schedule is there (the other direction)
    slots = 0
    t = datetime(start.year, start.month, start.day, tzinfo=UTC)
    while t <= T:
        slots += w.is_online(u, t)
        t += timedelta(minutes=3)
    assert slots == len(segs)
    # no details without include_details; the same totals
    plain = activity(http, sim, u, start, end, details="false").json()
    assert "details" not in plain and plain["activity"] == body["activity"]


def test_get_activity_tzo_shifts_local_time(sim, http):
    u = trophy_model(sim)
    day = T.date() - timedelta(days=2)
    utc = activity(http, sim, u, day - timedelta(days=1), day + timedelta(days=1), tzo=0).json()["details"]
    ny = activity(http, sim, u, day, day, tzo=-300).json()["details"]
    assert list(ny) == [day.isoformat()]
    by_utc = {s["timestamp"]: s for segs in utc.values() for s in segs}
    assert len(ny[day.isoformat()]) > 10
    for s in ny[day.isoformat()]:
        local = datetime.fromisoformat(s["timestamp"])
        assert local.date() == day
        same = by_utc[(local + timedelta(minutes=300)).strftime("%Y-%m-%dT%H:%M")]
        assert {k: v for k, v in s.items() if k != "timestamp"} == {
            k: v for k, v in same.items() if k != "timestamp"}
    # local day [day 00:00, day+1 00:00) at -300 is [day 05:00, day+1 05:00) UTC
    midnight = datetime.combine(day, datetime.min.time())
    expected = [t for t in by_utc
                if midnight + timedelta(hours=5) <= datetime.fromisoformat(t) < midnight + timedelta(hours=29)]
    assert len(expected) == len(ny[day.isoformat()])


def test_get_activity_errors_and_range_cap(sim, http):
    w = sim.world
    outsider = next(u for u in w.usernames if not w.in_trophy_db(u))
    u = trophy_model(sim)
    for name in (outsider, "nobody_here"):
        r = activity(http, sim, name, T.date(), T.date())
        assert r.status_code == 200 and r.json() == ERROR_300
        assert cb(http, sim, action="get_months", domain="cbhours", username=name).json() == ERROR_300
    ok = activity(http, sim, u, T.date() - timedelta(days=59), T.date(), details="false")
    assert ok.json()["status"] is True  # 60 days
    too_long = activity(http, sim, u, T.date() - timedelta(days=60), T.date(), details="false").json()
    assert too_long["status"] == "error" and "60" in too_long["message"]
    for bad in ({"start_date": "2025-13-01"}, {"tzo": "x"}, {"domain": ""}, {"username": ""},
                {"start_date": str(T.date()), "end_date": str(T.date() - timedelta(days=1))}):
        params = {"action": "get_activity", "domain": "cbhours", "username": u, "start_date": str(T.date()),
                  "end_date": str(T.date()), "tzo": 0, **bad}
        r = cb(http, sim, **params)
        assert r.status_code == 200 and r.json()["status"] == "error"


def test_get_months(sim, http):
    u = trophy_model(sim)
    months = cb(http, sim, action="get_months", domain="cbhours", username=u).json()
    assert isinstance(months, list) and months[0] == "2025-06" and len(months) >= 4
    assert months == sorted(months, reverse=True) and all(re.fullmatch(r"\d{4}-\d{2}", m) for m in months)
    assert months == cbh.months(sim.world, u, T)
    since = sim.world.cbhours_since(u)
    assert months[-1] >= since.strftime("%Y-%m")
    first = date.fromisoformat(months[1] + "-01")
    assert activity(http, sim, u, first, first + timedelta(days=27), details="false").json()["activity"]


# ---------------------------------------------------------------------------
# CBHours rate limit


def test_one_request_per_second_or_a_temporary_block(sim, http):
    sim.cbhours_rate_limit = True
    u = trophy_model(sim)
    live = {"action": "get_live", "usernames": u}
    assert cb(http, sim, **live).status_code == 200
    r = cb(http, sim, **live)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.headers["content-type"].startswith("text/plain") and r.text
    assert cb(http, sim, **live).status_code == 429  # still blocked
    state = sim.source_state("cbhours")
    assert len(state["violations"]) == 2 and state["blocked"] == 2
    time.sleep(2.05)
    assert cb(http, sim, **live).status_code == 200  # the block is over
    time.sleep(0.95)
    assert cb(http, sim, **live).status_code == 200  # ~1 request/s is fine
    assert http.get(sim.url + "/_sim/cbhours", timeout=5).json()["violations"] == 2
    sim.cbhours_rate_limit = False  # the off switch
    assert [cb(http, sim, **live).status_code for _ in range(5)] == [200] * 5
    r = http.post(sim.url + "/_sim/cbhours", json={"rate_limit": True, "reset": True}, timeout=5).json()
    assert r["rate_limit"] is True and r["violations"] == 0 and sim.cbhours_rate_limit


# ---------------------------------------------------------------------------
# Events API


def test_events_auth(sim, http):
    for url in (ev_url(sim, token="WRONG-token-1234567890abcd"), ev_url(sim, user="someone_else"),
                ev_url(sim, token=TOKEN + "x")):
        r = http.get(url, params={"timeout": 0}, timeout=5)
        assert r.status_code == 401 and r.text == "Unauthorized"
        assert r.headers["content-type"].startswith("text/plain")
    assert http.get(sim.url + "/events/" + sim.world.owner + "/", timeout=5).status_code == 404
    assert http.get(ev_url(sim) + "?timeout=x", timeout=5).status_code == 400
    assert http.get(ev_url(sim) + "?i=garbage", timeout=5).status_code == 400


def test_events_backlog_next_url_and_timeout_zero(sim, http):
    t = owner_online_at(sim)
    sim.set_time(t)
    r = http.get(ev_url(sim), params={"timeout": 0}, timeout=5)
    body = r.json()
    assert r.status_code == 200 and list(body) == ["events", "nextUrl"]
    backlog = body["events"]
    truth = sim.events_until(t, since=t - timedelta(seconds=300))
    assert [e["id"] for e in backlog] == [e["id"] for e in truth] and len(backlog) > 10
    nxt = urlsplit(body["nextUrl"])
    assert f"{nxt.scheme}://{nxt.netloc}" == sim.url and nxt.path == f"/events/{sim.world.owner}/{TOKEN}/"
    assert parse_qs(nxt.query) == {"i": [backlog[-1]["id"]], "timeout": ["0"]}
    # the nextUrl's timeout mirrors the request's (10 when none)
    assert "timeout=10" in http.get(ev_url(sim), timeout=5).json()["nextUrl"]
    assert "timeout=90" in http.get(ev_url(sim), params={"timeout": 500}, timeout=5).json()["nextUrl"]
    # frozen clock: nothing new; timeout=0 answers at once
    started = time.monotonic()
    empty = http.get(body["nextUrl"], timeout=5)
    assert time.monotonic() - started < 0.5
    assert empty.status_code == 200 and empty.json() == {"events": [], "nextUrl": body["nextUrl"]}
    # a real wait otherwise
    started = time.monotonic()
    waited = http.get(body["nextUrl"].replace("timeout=0", "timeout=1"), timeout=5).json()
    assert 0.9 <= time.monotonic() - started < 2.5 and waited["events"] == []


def test_events_replay_cap_and_ascending_ids(sim, http):
    s, _ = owner_session(sim, T - timedelta(days=1), min_minutes=120)
    t = s + timedelta(minutes=100)
    sim.set_time(t)
    old = sim.events_until(s + timedelta(minutes=5))[-1]["id"]
    url = f"{ev_url(sim)}?i={old}&timeout=0"
    first = http.get(url, timeout=5).json()
    again = http.get(url, timeout=5).json()
    assert [e["id"] for e in first["events"]] == [e["id"] for e in again["events"]]  # a replay
    assert len(first["events"]) == 500  # at most 500 per answer
    assert first["nextUrl"].endswith(f"?i={first['events'][-1]['id']}&timeout=0")
    collected = first["events"]
    nxt = first["nextUrl"]
    while True:
        page = http.get(nxt, timeout=5).json()
        if not page["events"]:
            break
        collected += page["events"]
        nxt = page["nextUrl"]
    keys = [key(e["id"]) for e in collected]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) and key(old) < keys[0]
    assert [e["id"] for e in collected] == [e["id"] for e in sim.events_until(t, since=old)]
    assert any(k[1] > 0 for k in keys)  # events sharing a millisecond


def _check_user(u: dict) -> None:
    assert list(u)[:7] == USER_KEYS and set(u) - set(USER_KEYS) <= EXTRA_KEYS
    assert u["recentTips"] in {"none", "few", "some", "lots", "tons"} and u["gender"] in "mftc"
    assert u["subgender"] in ({"tf", "tm", "tn"} if u["gender"] == "t" else {""})


def test_events_all_methods_and_shapes_through_http(sim, http):
    """A consumer following nextUrl across one whole owner session collects exactly the ground truth."""
    s, e = owner_session(sim, T)
    sim.set_time(s - timedelta(minutes=1))
    first = http.get(ev_url(sim), params={"timeout": 0}, timeout=5).json()
    collected = list(first["events"])
    nxt = first["nextUrl"]
    for moment in (s + (e - s) / 3, s + 2 * (e - s) / 3, e + timedelta(minutes=1)):  # the clock jumps
        sim.set_time(moment)
        while True:
            page = http.get(nxt, timeout=5).json()
            collected += page["events"]
            nxt = page["nextUrl"]
            if not page["events"]:
                break
    truth = sim.events_until(e + timedelta(minutes=1), since=s - timedelta(minutes=6))
    assert [x["id"] for x in collected] == [x["id"] for x in truth]
    session = [x for x in collected if s.timestamp() * 1000 <= key(x["id"])[0] < e.timestamp() * 1000]
    assert session[0]["method"] == "broadcastStart" and session[-1]["method"] == "broadcastStop"
    methods = Counter(x["method"] for x in session)
    assert set(methods) == METHODS, methods
    assert 10 <= len(session) / ((e - s).total_seconds() / 60) <= 30  # events per minute
    owner = sim.world.owner
    users, extras, tips, media_ids, pm_dirs = [], 0, [], set(), set()
    for x in session:
        obj = x["object"]
        assert obj["broadcaster"] == owner
        if x["method"] == "roomSubjectChange":
            assert set(obj) == {"broadcaster", "subject"} and obj["subject"]
            continue
        _check_user(obj["user"])
        users.append(obj["user"])
        extras += bool(set(obj["user"]) - set(USER_KEYS))
        if x["method"] in ("broadcastStart", "broadcastStop"):
            assert obj["user"]["username"] == owner
        if x["method"] == "tip":
            tips.append(obj["tip"])
            assert type(obj["tip"]["tokens"]) is int and obj["tip"]["tokens"] >= 1
        if x["method"] == "mediaPurchase":
            assert obj["media"]["type"] in {"photos", "video"} and obj["media"]["name"]
            media_ids.add(type(obj["media"]["id"]))
        if x["method"] in ("chatMessage", "privateMessage"):
            assert {"color", "bgColor", "message", "font"} <= set(obj["message"])
        if x["method"] == "privateMessage":
            msg = obj["message"]
            assert obj["user"]["username"] == msg["fromUser"] and owner in (msg["fromUser"], msg["toUser"])
            pm_dirs.add(msg["fromUser"] == owner)
        if x["method"] == "follow" and "isFollower" in obj["user"]:
            assert obj["user"]["isFollower"] is True
        if x["method"] == "unfollow" and "isFollower" in obj["user"]:
            assert obj["user"]["isFollower"] is False
    assert 0.2 < extras / len(users) < 0.8  # the optional extra keys: sometimes
    assert "few" in {u["recentTips"] for u in users}
    assert {True, False} == {t["isAnon"] for t in tips} and "" in {t["message"] for t in tips}
    assert any(t["message"].startswith("| ") for t in tips)
    assert media_ids == {int, str} and pm_dirs == {True, False}
    names = {u["username"] for u in users}
    models = names & set(sim.world.usernames) - {owner}
    assert models and len(names - set(sim.world.usernames)) > len(models)  # mostly viewers, some models


def test_events_flow_with_a_running_clock_and_consumer_equals_truth(sim, http):
    t = owner_online_at(sim)
    sim.set_time(t)
    first = http.get(ev_url(sim), params={"timeout": 2}, timeout=10).json()
    collected = list(first["events"])
    nxt = first["nextUrl"]
    sim.time_scale = 60.0
    sim.set_time(t, frozen=False)  # a simulated minute per second
    started = time.monotonic()
    answers = 0
    while time.monotonic() - started < 2.5:
        page = http.get(nxt, timeout=10).json()
        answers += 1
        collected += page["events"]
        nxt = page["nextUrl"]
    end = sim.now()
    sim.set_time(end)  # freeze: the stream stops growing; drain the rest
    while True:
        page = http.get(nxt.replace("timeout=2", "timeout=0"), timeout=10).json()
        if not page["events"]:
            break
        collected += page["events"]
        nxt = page["nextUrl"]
    truth = sim.events_until(end, since=t - timedelta(seconds=300))
    assert len(truth) > len(first["events"]) + 10 and answers >= 2
    assert [e["id"] for e in collected] == [e["id"] for e in truth]
    params = {"until": end.isoformat(), "since": first["events"][0]["id"]}
    ids = http.get(sim.url + "/_sim/truth/events", params=params, timeout=5).json()["ids"]
    assert ids == [e["id"] for e in truth[1:]]


def test_waited_too_long_variant(sim, http):
    t = owner_online_at(sim)
    sim.set_time(t)
    nxt = http.get(ev_url(sim), params={"timeout": 0}, timeout=5).json()["nextUrl"]
    sim.events_waited_too_long = True
    r = http.get(nxt, timeout=5)
    assert r.status_code == 400
    assert r.json() == {"status": "waited too long for events", "events": [], "nextUrl": nxt}
    sim.set_time(t + timedelta(minutes=2))  # with events pending: a normal answer
    ok = http.get(nxt, timeout=5)
    assert ok.status_code == 200 and ok.json()["events"]
    sim.events_waited_too_long = False
    sim.inject("/events/", "waited_too_long")
    r = http.get(nxt, timeout=5)
    assert r.status_code == 400 and r.json()["status"] == "waited too long for events"
    assert r.json()["nextUrl"] == nxt and r.headers["X-Sim-Fault"] == "waited_too_long"
    assert http.get(nxt, timeout=5).status_code == 200


def test_emit_event_and_unknown_methods(sim, http):
    t = owner_online_at(sim)
    sim.set_time(t)
    nxt = http.get(ev_url(sim), params={"timeout": 0}, timeout=5).json()["nextUrl"]
    a = sim.emit_event("someNewMethod", {"broadcaster": sim.world.owner, "whatever": [1, 2]})
    tip = {"tokens": 5, "isAnon": False, "message": ""}
    b = sim.emit_event("tip", {"broadcaster": sim.world.owner, "tip": tip, "user": {"username": "emitted_user"}})
    ms, seq = key(a["id"])
    assert ms == int(t.timestamp() * 1000) and key(b["id"]) == (ms, seq + 1)
    page = http.get(nxt, timeout=5).json()
    assert page["events"] == [a, b]
    assert [e["id"] for e in sim.events_until(t)[-2:]] == [a["id"], b["id"]]
    # an emitted event wakes a waiting long poll at once
    later = t + timedelta(seconds=1)
    emit = threading.Timer(0.3, lambda: sim.emit_event("chatMessage", {"broadcaster": sim.world.owner}, at=t))
    emit.start()
    started = time.monotonic()
    woke = http.get(page["nextUrl"].replace("timeout=0", "timeout=5"), timeout=10).json()
    assert time.monotonic() - started < 2 and [e["method"] for e in woke["events"]] == ["chatMessage"]
    # through the control endpoint, in the future: due when the clock gets there
    spec = {"method": "anotherOne", "object": {}, "at": later.isoformat()}
    r = http.post(sim.url + "/_sim/events/emit", json=spec, timeout=5)
    assert r.status_code == 201
    nxt = woke["nextUrl"].replace("timeout=5", "timeout=0")
    assert http.get(nxt, timeout=5).json()["events"] == []
    sim.set_time(later)
    assert http.get(nxt, timeout=5).json()["events"] == [r.json()]


def test_events_rate_limit(sim, http):
    t = owner_online_at(sim)
    sim.set_time(t)
    url = http.get(ev_url(sim), params={"timeout": 0}, timeout=5).json()["nextUrl"]
    codes = Counter(http.get(url, timeout=5).status_code for _ in range(1999))
    assert codes == {200: 1999}  # 2000 requests in this minute, with the first
    r = http.get(url, timeout=5)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert http.get(ev_url(sim, token="another-token-1234567890ab"), timeout=5).status_code == 401
    sim.events_rate_limit = 0  # off
    assert http.get(url, timeout=5).status_code == 200


def test_generic_faults_on_the_new_paths(sim, http):
    nxt = http.get(ev_url(sim), params={"timeout": 0}, timeout=5).json()["nextUrl"]
    sim.inject("/events/", "status", status=503)
    sim.inject("/events/", "malformed")
    sim.inject(CBH, "html")
    sim.inject(CBH, "slow", delay=0.3)
    assert http.get(nxt, timeout=5).status_code == 503
    with pytest.raises(requests.exceptions.JSONDecodeError):
        http.get(nxt, timeout=5).json()
    live = {"action": "get_live", "usernames": sim.world.owner}
    assert "Just a moment" in cb(http, sim, **live).text
    started = time.monotonic()
    assert cb(http, sim, **live).json()["server_status"] == "up" and time.monotonic() - started >= 0.3
    # replayed events (duplicates fault): the events up to i come again, ids stay ascending
    t = owner_online_at(sim)
    sim.set_time(t)
    old = sim.events_until(t - timedelta(minutes=2))[-1]["id"]
    sim.inject("/events/", "duplicates", n=2)
    page = http.get(f"{ev_url(sim)}?i={old}&timeout=0", timeout=5).json()["events"]
    assert page[1]["id"] == old and key(page[0]["id"]) < key(old) < key(page[2]["id"])
