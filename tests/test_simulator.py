"""The simulator: the World (deterministic ground truth) and the HTTP server (real requests on 127.0.0.1)."""

from __future__ import annotations

import http.client as httpclient
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import requests

from mhc_pipeline.simulator import Simulator, World
from mhc_pipeline.simulator.routing import Request, Response

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
AFF = "/api/public/affiliates/onlinerooms/"
PARAMS = {"wm": "Qx7Tb", "client_ip": "request_ip", "format": "json"}
ROOM_KEYS = [
    "username", "slug", "display_name", "gender", "age", "birthday", "location", "country",
    "spoken_languages", "tags", "room_subject", "current_show", "is_hd", "is_new", "num_users",
    "num_followers", "seconds_online", "image_url", "image_url_360x270", "chat_room_url",
    "chat_room_url_revshare", "iframe_embed", "iframe_embed_revshare",
]
ROOT = Path(__file__).resolve().parents[1]


def check_room(r: dict, wm: str = "Qx7Tb") -> None:
    assert list(r) == ROOM_KEYS
    u = r["username"]
    assert re.fullmatch(r"[a-z0-9_]+", u)
    assert r["slug"] == u
    assert isinstance(r["display_name"], str)
    assert r["gender"] in {"f", "m", "t", "c"}
    assert (r["age"] is None) == (r["birthday"] == "")
    if r["birthday"]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["birthday"])
        assert isinstance(r["age"], int) and not isinstance(r["age"], bool) and 18 <= r["age"] <= 99
    for k in ("location", "country", "spoken_languages", "room_subject"):
        assert isinstance(r[k], str)
    assert r["country"] == "" or re.fullmatch(r"[A-Z]{2}", r["country"])
    assert isinstance(r["tags"], list) and len(r["tags"]) <= 7
    assert all(re.fullmatch(r"[a-z0-9_]+", t) for t in r["tags"])
    assert len(r["room_subject"]) <= 250
    assert r["current_show"] in {"public", "private", "away", "hidden", "group"}
    assert isinstance(r["is_hd"], bool) and isinstance(r["is_new"], bool)
    for k in ("num_users", "num_followers", "seconds_online"):
        assert type(r[k]) is int and r[k] >= 0
    assert r["image_url"] == f"https://thumb.live.mmcdn.com/ri/{u}.jpg" == r["image_url_360x270"]
    assert r["chat_room_url"] == f"https://chaturbate.com/in/?tour=yiMH&campaign={wm}&track=default&room={u}"
    assert r["chat_room_url_revshare"] == r["chat_room_url"].replace("tour=yiMH", "tour=LQps")
    assert r["iframe_embed"] == (
        f"<iframe src='https://chaturbate.com/in/?tour=Jrvi&amp;campaign={wm}&amp;track=embed&amp;room={u}"
        "&amp;bgcolor=white' height=528 width=850 style='border: none;'></iframe>")
    assert r["iframe_embed_revshare"] == r["iframe_embed"].replace("tour=Jrvi", "tour=9oGW")


# ---------------------------------------------------------------------------
# World


def test_world_is_deterministic_and_evolves():
    a, b = World(rooms=50, seed=7), World(rooms=50, seed=7)
    assert a.usernames == b.usernames
    assert len(set(a.usernames)) == 50
    assert a.online_rooms(T0) == b.online_rooms(T0)
    assert a.online_rooms(T0, wm="abcde") == b.online_rooms(T0, wm="abcde")
    # a later call for the same t (cached) is identical, and returns private copies
    first = a.online_rooms(T0)
    first[0]["tags"].append("mutated")
    first[0]["num_users"] = -1
    assert a.online_rooms(T0) == b.online_rooms(T0)
    # a different seed is a different world; a bigger world with the same seed extends it
    assert World(rooms=50, seed=8).usernames != a.usernames
    assert World(rooms=80, seed=7).usernames[:50] == a.usernames
    # viewers change from minute to minute
    later = T0 + timedelta(minutes=10)
    now_users = {r["username"]: r["num_users"] for r in a.online_rooms(T0)}
    later_users = {r["username"]: r["num_users"] for r in a.online_rooms(later)}
    common = set(now_users) & set(later_users)
    assert common and any(now_users[u] != later_users[u] for u in common)
    # sorted by num_users desc (ground truth order)
    users = [r["num_users"] for r in a.online_rooms(T0)]
    assert users == sorted(users, reverse=True)


def test_world_rooms_shape_and_consistency():
    w = World(rooms=300, seed=3)
    for k in range(0, 24 * 60, 97):  # spread over a day
        t = T0 + timedelta(minutes=k, seconds=17)
        rooms = w.online_rooms(t, wm="Qx7Tb")
        assert 0.30 * 300 <= len(rooms) <= 0.55 * 300
        for r in rooms:
            check_room(r)
        r = rooms[len(rooms) // 2]
        u = r["username"]
        assert w.room(u, t, wm="Qx7Tb") == r
        assert w.is_online(u, t)
        start = w.session_start(u, t)
        assert start is not None and r["seconds_online"] == int((t - start).total_seconds())
        assert start.second == 0
        offline = next(x for x in w.usernames if x not in {y["username"] for y in rooms})
        assert w.room(offline, t) is None and w.session_start(offline, t) is None and not w.is_online(offline, t)
        live = w.live_state(u, t)
        assert live is not None and live.num_users == r["num_users"] and live.current_show == r["current_show"]
    # the owner is a regular model
    assert w.usernames[0] == "hudson_cage" and w.owner == "hudson_cage"


def test_world_value_rules():
    w = World(rooms=600, seed=11)
    models = w.models
    n = len(models)
    share = lambda pred: sum(1 for m in models if pred(m)) / n  # noqa: E731
    assert 0.26 <= share(lambda m: m.birthday == "") <= 0.42
    assert 0.37 <= share(lambda m: m.country == "") <= 0.53
    assert 0.12 <= share(lambda m: m.display_name == "") <= 0.24
    assert 0.08 <= share(lambda m: not m.tags) <= 0.19
    assert 0.60 <= share(lambda m: m.gender == "f") <= 0.74
    assert {m.region for m in models} == {"asia", "europe_russia", "northamerica", "southamerica", "other"}
    # age: whole years since birthday, capped at 99 (joke birthdays)
    day = T0.date()
    for m in models:
        if m.birthday:
            y, mo, d = map(int, m.birthday.split("-"))
            expect = day.year - y - ((day.month, day.day) < (mo, d))
            assert m.age_on(day) == min(99, expect)
    assert any(m.age_on(day) == 99 for m in World(rooms=3000, seed=11).models if m.birthday)
    # followers never decrease; show is constant inside a 5-minute bucket
    u = w.usernames[5]
    f = [w.num_followers(u, T0 + timedelta(hours=h)) for h in range(0, 24 * 40, 7)]
    assert f == sorted(f) and f[-1] > f[0]
    for r in w.online_rooms(T0):
        same_bucket = w.room(r["username"], T0 + timedelta(minutes=4, seconds=59))
        if same_bucket is not None:
            assert same_bucket["current_show"] == r["current_show"]
    # sessions are consistent with is_online
    sessions = w.sessions(u, T0, T0 + timedelta(days=2))
    assert sessions
    for s, e in sessions:
        assert timedelta(minutes=30) <= e - s <= timedelta(hours=21)
        if s >= T0:
            assert w.is_online(u, s) and w.session_start(u, s + timedelta(minutes=1)) == s
        assert not w.is_online(u, e) or any(s2 == e for s2, _ in sessions)


def test_world_always_some_online():
    w = World(rooms=20, seed=5)
    counts = [len(w.online_usernames(T0 + timedelta(minutes=m))) for m in range(0, 2 * 24 * 60, 20)]
    assert min(counts) >= 3


def test_world_10k_scales_and_caches_per_minute():
    """The benchmark world (timings are in bench/bench_simulator_world.py, not asserted here)."""
    w = World(rooms=10_000, seed=1)
    t = T0 + timedelta(minutes=3, seconds=30)
    rooms = w.online_rooms(t)
    again = w.online_rooms(t + timedelta(seconds=20))  # same minute bucket: served from the cache
    assert 0.30 <= len(rooms) / 10_000 <= 0.55
    assert [r["username"] for r in again] == [r["username"] for r in rooms]
    assert again[0]["seconds_online"] == rooms[0]["seconds_online"] + 20
    assert max(r["num_users"] for r in rooms) > 500


# ---------------------------------------------------------------------------
# HTTP server


@pytest.fixture(scope="module")
def sim():
    with Simulator(rooms=50, seed=1) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(request):
    if "sim" in request.fixturenames:
        s = request.getfixturevalue("sim")
        s.clear_faults()
        s.reset_requests()
        s.order_jitter = 5.0
        s.order_salt = "time"
        s.set_time(T0)
    yield


@pytest.fixture(scope="module")
def big():
    with Simulator(rooms=1500, seed=2) as s:
        s.set_time(T0)
        yield s


@pytest.fixture()
def http():
    with requests.Session() as s:
        yield s


def get_aff(http, sim, **params):
    headers = params.pop("headers", None)
    q = {**PARAMS, **params}
    return http.get(sim.url + AFF, params={k: v for k, v in q.items() if v is not None}, headers=headers, timeout=10)


def test_affiliate_matches_truth(sim, http):
    sim.order_jitter = 0
    r = get_aff(http, sim, limit=500)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert list(r.json()) == ["results", "count"]
    body = r.json()
    truth = sim.world.online_rooms(T0, wm="Qx7Tb")
    assert body["count"] == len(truth) == len(body["results"])
    assert body["results"] == truth
    for room in body["results"]:
        check_room(room)
    assert sim.url.startswith("http://127.0.0.1:")


def test_affiliate_limit_offset_and_cap(big, http):
    truth = big.world.online_rooms(T0, wm="Qx7Tb")
    assert len(truth) > 520
    assert len(get_aff(http, big).json()["results"]) == 100  # default limit
    body = get_aff(http, big, limit=1000).json()
    assert len(body["results"]) == 500 and body["count"] == len(truth)
    big.order_jitter = 0
    try:
        pages, offset = [], 0
        while True:
            b = get_aff(http, big, limit=150, offset=offset).json()
            assert b["count"] == len(truth)
            if not b["results"]:
                break
            pages += b["results"]
            offset += 150
        assert [p["username"] for p in pages] == [t["username"] for t in truth]
        assert get_aff(http, big, offset=len(truth) + 5).json() == {"results": [], "count": len(truth)}
    finally:
        big.order_jitter = 5.0


def crawl(http, sim, page: int, **params) -> list[str]:
    seen, offset = [], 0
    while True:
        body = get_aff(http, sim, limit=page, offset=offset, **params).json()
        seen += [r["username"] for r in body["results"]]
        offset += page
        if offset >= body["count"]:
            return seen


def test_affiliate_order_is_roughly_sorted_and_stable_while_frozen(big, http):
    truth = [r["username"] for r in big.world.online_rooms(T0)]
    a = get_aff(http, big, limit=500).json()["results"]
    assert a == get_aff(http, big, limit=500).json()["results"]  # frozen world: same order every call
    assert [r["username"] for r in a] != truth[:500]  # ... but not strictly by num_users
    users = [r["num_users"] for r in a[:200]]
    inversions = sum(1 for x, y in zip(users, users[1:]) if y > x)
    print(f"\nadjacent num_users inversions in the top 200: {inversions / 199:.0%}")
    assert inversions > 10
    seen = crawl(http, big, 50)
    assert sorted(seen) == sorted(truth)  # a crawl under a frozen clock is complete
    # another simulated time (same minute: same rooms) gives another order
    b = get_aff(http, big, limit=500, headers={"X-Sim-Time": "2025-06-01T12:00:01Z"}).json()["results"]
    assert [r["username"] for r in b] != [r["username"] for r in a]


def test_affiliate_order_moves_per_request(big, http):
    truth = [r["username"] for r in big.world.online_rooms(T0)]
    big.order_salt = "request"
    try:
        a = [r["username"] for r in get_aff(http, big, limit=500).json()["results"]]
        b = [r["username"] for r in get_aff(http, big, limit=500).json()["results"]]
        assert a != b  # adjacent rooms swap between calls
        # paging with offset over the moving order duplicates and skips a few rooms
        seen = crawl(http, big, 50)
    finally:
        big.order_salt = "time"
    assert len(seen) == len(truth) and set(seen) <= set(truth)
    dup = len(seen) - len(set(seen))
    print(f"\npaging {len(truth)} rooms by 50, order moving per request: {dup} duplicates, "
          f"{len(set(truth) - set(seen))} skipped")
    assert 0 < dup < 0.05 * len(truth)


def test_affiliate_order_moves_with_a_running_clock(sim, http):
    sim.set_time(T0, frozen=False)
    a = [r["username"] for r in get_aff(http, sim, limit=500).json()["results"]]
    time.sleep(0.01)
    b = [r["username"] for r in get_aff(http, sim, limit=500).json()["results"]]
    assert a != b


def test_affiliate_filters(big, http):
    truth = big.world.online_rooms(T0)
    models = {m.username: m for m in big.world.models}

    body = get_aff(http, big, gender=["f", "c"], limit=500).json()
    assert body["count"] == sum(1 for r in truth if r["gender"] in "fc")
    assert {r["gender"] for r in body["results"]} == {"f", "c"}

    body = get_aff(http, big, region=["asia", "other"], limit=500).json()
    assert body["count"] == sum(1 for r in truth if models[r["username"]].region in ("asia", "other"))
    assert all(models[r["username"]].region in ("asia", "other") for r in body["results"])

    body = get_aff(http, big, tag=["lovense", "latina"], limit=500).json()  # AND
    expect = [r for r in truth if "lovense" in r["tags"] and "latina" in r["tags"]]
    assert expect and body["count"] == len(expect)
    assert all({"lovense", "latina"} <= set(r["tags"]) for r in body["results"])

    body = get_aff(http, big, hd="false", gender="m", limit=500).json()
    assert body["count"] == sum(1 for r in truth if not r["is_hd"] and r["gender"] == "m")


def test_affiliate_bad_requests(sim, http):
    for params in ({"wm": None}, {"wm": ""}, {"client_ip": None}, {"client_ip": "not-an-ip"},
                   {"limit": "ten"}, {"offset": "-1"}, {"format": "xml"}, {"hd": "maybe"}):
        r = get_aff(http, sim, **params)
        assert r.status_code == 400, params
        assert r.headers["Content-Type"].startswith("text/plain")
    assert get_aff(http, sim, client_ip="203.0.113.9").status_code == 200
    r = http.get(sim.url + "/nope/", timeout=5)
    assert r.status_code == 404 and r.json()["error"] == "not found"
    assert http.post(sim.url + AFF, timeout=5).status_code == 405


def test_wm_is_echoed(sim, http):
    for room in get_aff(http, sim, wm="ZZ9zz").json()["results"]:
        check_room(room, wm="ZZ9zz")


def test_x_sim_time_header(sim, http):
    t2 = T0 + timedelta(hours=9, minutes=41, seconds=5)
    sim.order_jitter = 0
    r = get_aff(http, sim, limit=500, headers={"X-Sim-Time": "2025-06-01T21:41:05Z"})
    assert r.json()["results"] == sim.world.online_rooms(t2, wm="Qx7Tb")
    assert sim.requests[-1].sim_time == t2
    # the frozen clock is untouched
    assert get_aff(http, sim, limit=500).json()["results"] == sim.world.online_rooms(T0, wm="Qx7Tb")
    assert get_aff(http, sim, headers={"X-Sim-Time": "yesterday"}).status_code == 400


def test_request_log(sim, http):
    get_aff(http, sim, gender=["f", "m"], limit=3)
    sim.inject(AFF, "status", status=429)
    get_aff(http, sim)
    http.get(sim.url + "/_sim/health", timeout=5)  # control requests are not logged
    recs = sim.requests
    assert [r.status for r in recs] == [200, 429]
    assert recs[0].method == "GET" and recs[0].path == AFF
    assert recs[0].query["gender"] == ["f", "m"] and recs[0].query["limit"] == ["3"]
    assert recs[0].fault is None and recs[1].fault == "status"
    assert recs[0].mono <= recs[1].mono and recs[0].wall.tzinfo is not None
    sim.reset_requests()
    assert sim.requests == []


def test_keep_alive(sim):
    conn = httpclient.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", AFF + "?wm=Qx7Tb&client_ip=request_ip&limit=2")
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and resp.version == 11
            assert int(resp.getheader("Content-Length")) == len(body)
            assert not resp.will_close
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# faults


def test_fault_status(sim, http):
    sim.inject(AFF, "status", status=429, retry_after=7)
    sim.inject("/api/", "status", count=2, status=503)
    sim.inject(AFF, "status", status=520)
    r = get_aff(http, sim)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.headers["Content-Type"].startswith("text/plain")
    for _ in range(2):
        r = get_aff(http, sim)
        assert r.status_code == 503 and "text/html" in r.headers["Content-Type"]
        assert "cloudflare" in r.text.lower() and "Retry-After" not in r.headers
    r = get_aff(http, sim)
    assert r.status_code == 520 and "<html" in r.text
    sim.inject(AFF, "status", status=403)
    r = get_aff(http, sim)
    assert r.status_code == 403 and "Sorry, you have been blocked" in r.text
    assert get_aff(http, sim).status_code == 200
    assert sim.faults == []


def test_fault_slow(sim, http):
    sim.inject(AFF, "slow", delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(sim.url + AFF, params=PARAMS, timeout=0.2)
    sim.inject(AFF, "slow", delay=0.3)
    t0 = time.perf_counter()
    r = get_aff(http, sim)
    assert r.status_code == 200 and time.perf_counter() - t0 >= 0.3
    t0 = time.perf_counter()
    assert get_aff(http, sim).status_code == 200 and time.perf_counter() - t0 < 0.3


def test_fault_html_and_malformed(sim, http):
    sim.inject(AFF, "html")
    sim.inject(AFF, "malformed")
    r = get_aff(http, sim)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<title>Just a moment...</title>" in r.text
    r = get_aff(http, sim)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    assert get_aff(http, sim).json()["results"]


def test_fault_bad_row(sim, http):
    sim.inject(AFF, "bad_row")
    rows = get_aff(http, sim, limit=20).json()["results"]
    missing = [r for r in rows if "username" not in r]
    wrong = [r for r in rows if r.get("num_users") == "lots"]
    assert len(missing) == 1 and len(wrong) == 1
    good = [r for r in rows if "username" in r and r["num_users"] != "lots"]
    assert len(good) == len(rows) - 2
    for r in good:
        check_room(r)
    assert all(isinstance(r["num_users"], int) for r in get_aff(http, sim, limit=20).json()["results"])


def test_fault_duplicates(sim, http):
    sim.order_jitter = 0
    page1 = [r["username"] for r in get_aff(http, sim, limit=8).json()["results"]]
    sim.inject(AFF, "duplicates", n=3)
    body = get_aff(http, sim, limit=8, offset=8).json()
    page2 = [r["username"] for r in body["results"]]
    assert page2[:3] == page1[-3:]
    assert len(page2) == 8 + 3 and len(set(page1 + page2)) == 16
    for r in body["results"]:
        check_room(r)


def test_fault_matching_fifo_and_threads(sim, http):
    sim.inject("/elsewhere/", "status", status=500)
    assert get_aff(http, sim).status_code == 200  # path prefix does not match
    assert len(sim.faults) == 1
    sim.clear_faults()
    with pytest.raises(ValueError):
        sim.inject(AFF, "explode")
    with pytest.raises(ValueError):
        sim.inject(AFF, "status")  # needs status=
    with pytest.raises(ValueError):
        sim.inject(AFF, "slow", dealy=1)  # typo is an error
    sim.inject(AFF, "status", count=5, status=502)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker():
        with requests.Session() as s:
            for _ in range(4):
                code = get_aff(s, sim, limit=1).status_code
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 15 + [502] * 5


# ---------------------------------------------------------------------------
# control endpoints, routing, lifecycle


def test_control_endpoints(sim, http):
    u = sim.url
    h = http.get(u + "/_sim/health", timeout=5).json()
    assert h["status"] == "ok" and h["rooms"] == 50 and h["seed"] == 1
    assert {"method": "GET", "prefix": AFF, "source": "affiliate"} in h["routes"]

    r = http.post(u + "/_sim/faults", json={"path": AFF, "kind": "status", "status": 429, "retry_after": 2,
                                             "count": 2}, timeout=5)
    assert r.status_code == 201
    assert http.get(u + "/_sim/faults", timeout=5).json()["faults"][0]["count"] == 2
    assert get_aff(http, sim).status_code == 429
    assert http.delete(u + "/_sim/faults", timeout=5).json() == {"cleared": 1}
    assert get_aff(http, sim).status_code == 200
    r = http.post(u + "/_sim/faults", json=[{"path": AFF, "kind": "html"}, {"path": AFF, "kind": "bad"}], timeout=5)
    assert r.status_code == 400 and sim.faults == []  # all-or-nothing
    assert http.post(u + "/_sim/faults", data=b"{nope", timeout=5).status_code == 400

    t2 = "2025-06-02T03:04:05+00:00"
    assert http.post(u + "/_sim/clock", json={"now": t2}, timeout=5).json()["now"] == t2
    assert sim.now() == datetime(2025, 6, 2, 3, 4, 5, tzinfo=UTC)
    truth = http.get(u + "/_sim/truth/affiliate", params={"at": t2}, timeout=5).json()
    assert truth["usernames"] == sim.world.online_usernames(sim.now()) and truth["count"] == len(truth["usernames"])
    assert http.get(u + "/_sim/truth/affiliate", timeout=5).json()["usernames"] == truth["usernames"]
    full = http.get(u + "/_sim/truth/affiliate", params={"at": "2025-06-02T03:04:05Z", "full": "true"}, timeout=5)
    assert full.json()["rooms"] == sim.world.online_rooms(sim.now())
    r = http.post(u + "/_sim/clock", json={"now": None}, timeout=5).json()
    assert r["frozen"] is False and abs(sim.now() - datetime.now(UTC)) < timedelta(seconds=5)

    r = http.post(u + "/_sim/config", json={"order_jitter": 0, "order_salt": "request"}, timeout=5)
    assert r.json() == {"order_jitter": 0.0, "order_salt": "request"}
    assert sim.order_jitter == 0 and sim.order_salt == "request"
    assert http.post(u + "/_sim/config", json={"order_salt": "sometimes"}, timeout=5).status_code == 400
    get_aff(http, sim)
    log = http.get(u + "/_sim/requests", timeout=5).json()["requests"]
    assert log[-1]["path"] == AFF and log[-1]["status"] == 200
    http.delete(u + "/_sim/requests", timeout=5)
    assert sim.requests == []
    assert http.get(u + "/_sim/nothing", timeout=5).status_code == 404


def test_clock_time_scale():
    s = Simulator(rooms=5, time_scale=600)
    s.set_time(T0, frozen=False)
    time.sleep(0.1)
    assert T0 + timedelta(seconds=30) < s.now() < T0 + timedelta(seconds=300)
    s.set_time(T0)
    assert s.now() == T0


def test_route_registry_and_lifecycle():
    @Simulator.route("GET", "/_test_source/ping")
    def ping(req: Request) -> Response:
        return Response.json({"pong": req.arg("x"), "now": req.now.isoformat(),
                              "online": len(req.world.online_usernames(req.now))})

    with Simulator(rooms=20, seed=4) as s:
        s.set_time(T0)
        body = requests.get(s.url + "/_test_source/ping?x=1", timeout=5).json()
        assert body == {"pong": "1", "now": T0.isoformat(), "online": len(s.world.online_usernames(T0))}
        s.inject("/_test_source/", "malformed")
        with pytest.raises(requests.exceptions.JSONDecodeError):
            requests.get(s.url + "/_test_source/ping", timeout=5).json()
        url = s.url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/_sim/health", timeout=2)


def test_serve_cli_process():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = ("import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close();"
            "from mhc_pipeline.simulator import serve; serve(rooms=30, seed=3, port=p)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert m, line + proc.stderr.read()
        health = requests.get(m.group(0) + "/_sim/health", timeout=5).json()
        assert health["rooms"] == 30 and health["seed"] == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
