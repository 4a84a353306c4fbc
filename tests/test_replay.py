"""`mhc land` replays every source: a saved answer, captured from the simulator over HTTP, lands through the
CLI the same rows the live path lands for that answer; the same file twice is once; a different file at
a held time is refused unless --replace; a file of another shape is one line, exit 2, nothing landed; no
secret is stored. No dbt build: the raw tables are the contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from mhc_pipeline import load, settings
from mhc_pipeline.defs.affiliate import client as affiliate
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.defs.events import client as events
from mhc_pipeline.defs.statbate import client as statbate
from mhc_pipeline.defs.stats import client as stats
from mhc_pipeline.http import HttpClient, RateLimiter
from mhc_pipeline.simulator import statbate as sim_sb
from mhc_pipeline.simulator import stats as sim_stats
from mhc_pipeline.sources import RAW_TABLES, REPLAYABLE
from tests.conftest import count

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # the simulator's frozen clock
LIVE_AT = T - timedelta(minutes=1)  # the live landing of an answer
REPLAY_AT = "2026-11-20T17:58:30Z"  # its replay
SB_TOKEN = sim_sb.DEFAULT_TOKEN


def _get(url: str, headers: dict | None = None) -> bytes:
    with urlopen(Request(url, headers=headers or {}), timeout=30) as resp:
        return resp.read()


def _client(source: str, **kw) -> HttpClient:
    return HttpClient(source, retries=2, backoff_factor=0.05, limiter=RateLimiter(0), **kw)


# --- each source: save an answer over HTTP, and land the same answer through the live path -------------
def _affiliate_save(sim, tmp):
    query = urlencode({"wm": "SIMWM", "client_ip": "request_ip", "format": "json", "limit": 500, "offset": 0})
    return _get(f"{sim.url}{AFF_PATH}?{query}"), []


AFF_PATH = "/api/public/affiliates/onlinerooms/"


def _affiliate_live(conn, sim, pg_url, tmp):
    res = affiliate.AffiliateResource(url=sim.url + AFF_PATH, wm="SIMWM", client_ip="request_ip", page_size=500,
                                      max_per_minute=0, timeout=10, retries=2)
    affiliate.land_crawl(conn, res, LIVE_AT)


def _cbhours_res(sim) -> cbhours.CBHoursResource:
    return cbhours.CBHoursResource(url=sim.url + "/api.php", max_per_minute=6000, timeout=10, retries=2)


def _live_names(sim) -> list[str]:
    return sim.world.usernames[:30] + ["not_a_model_1"]


def _cbhours_live_save(sim, tmp):
    return _get(f"{sim.url}/api.php?{urlencode({'action': 'get_live', 'usernames': ','.join(_live_names(sim))})}"), []


def _cbhours_live_live(conn, sim, pg_url, tmp):
    with _client("cbhours") as client:
        load.land(conn, cbhours.live_batch(client, _cbhours_res(sim), _live_names(sim), LIVE_AT))


DAYS = (T.date() - timedelta(days=1), T.date())


def _active_model(sim) -> str:
    """A model CBHours knows that was on line on both days (the replay takes the days asked from them)."""
    for name in sim.world.usernames:
        if sim.world.in_trophy_db(name):
            answer = json.loads(_get(f"{sim.url}/api.php?{urlencode(cbhours.activity_params(name, *DAYS))}"))
            if set(answer.get("activity") or {}) >= {d.isoformat() for d in DAYS}:
                return name
    raise AssertionError("no model on line on both days")


def _cbhours_activity_save(sim, tmp):
    name = _active_model(sim)
    (tmp / "model").write_text(name)
    return _get(f"{sim.url}/api.php?{urlencode(cbhours.activity_params(name, *DAYS))}"), []


def _cbhours_activity_live(conn, sim, pg_url, tmp):
    with _client("cbhours") as client:
        batch = cbhours.activity_batch(client, _cbhours_res(sim), [(tmp / "model").read_text()], *DAYS, LIVE_AT)
    load.land(conn, batch)


def _events_res(sim) -> events.EventsResource:
    return events.EventsResource(url=sim.url + "/events/", username=sim.world.owner, token=sim.events_token,
                                 max_per_minute=6000, retries=2)


def _events_save(sim, tmp):
    return _get(_events_res(sim).start_url(None, 0)), []  # the first answer: the backlog


def _events_live(conn, sim, pg_url, tmp):
    result = events.drain(conn, pg_url, _events_res(sim), poll_timeout=0, until_empty=True)
    assert result.answers == 2 and result.events_landed > 0  # the backlog, then an empty answer


def _stats_res(sim) -> stats.StatsResource:
    return stats.StatsResource(url=sim.url + sim_stats.PATH, username=sim.world.owner, token=sim_stats.DEFAULT_TOKEN,
                               max_per_minute=6000, backoff_minutes=60, timeout=10, retries=2)


def _stats_save(sim, tmp):
    query = urlencode({"username": sim.world.owner, "token": sim_stats.DEFAULT_TOKEN})
    return _get(f"{sim.url}{sim_stats.PATH}?{query}"), []


def _stats_live(conn, sim, pg_url, tmp):
    assert stats.fetch_cycle(conn, pg_url, _stats_res(sim), LIVE_AT).outcome == "landed"


def _sb_res(sim) -> statbate.StatBateResource:
    return statbate.StatBateResource(url=sim.url + "/statbate/api", token=SB_TOKEN, max_per_minute=60000, retries=2)


def _sb_get(sim, kind: str, name: str, what: str, **params) -> bytes:
    url = _sb_res(sim).endpoint(kind, name, what)
    return _get(f"{url}?{urlencode({'timezone': 'UTC', **params})}", {"Authorization": f"Bearer {SB_TOKEN}"})


def _sb_land(conn, sim, table: str, name: str, fill: Callable[[HttpClient, Any, load.Batch], Any]) -> None:
    """A look-up's batch of one person, as `statbate.collect` makes it."""
    batch = load.Batch(source=statbate.SOURCE, table=table, fetched_at=LIVE_AT, scope=f"lookup:{name}")
    with _client("statbate", headers={"Authorization": f"Bearer {SB_TOKEN}"}, secrets=[SB_TOKEN]) as client:
        fill(client, _sb_res(sim), batch)
    load.land(conn, batch)


def _busiest_model(sim) -> str:
    return max(sim.world.usernames[:20], key=lambda u: len(sim_sb.model_tips(sim.world, u, T - timedelta(days=2), T)))


def _a_member(sim) -> str:
    return sim_sb.model_tips(sim.world, _busiest_model(sim), T - timedelta(days=2), T)[0]["member"]


def _sb_model_info_save(sim, tmp):
    return _sb_get(sim, "model", _busiest_model(sim), "info"), []


def _sb_model_info_live(conn, sim, pg_url, tmp):
    name = _busiest_model(sim)
    _sb_land(conn, sim, statbate.MODEL_INFO_TABLE, name, lambda c, r, b: statbate.fetch_info(c, r, "model", name, b))


def _sb_member_info_save(sim, tmp):
    return _sb_get(sim, "member", _a_member(sim), "info"), []


def _sb_member_info_live(conn, sim, pg_url, tmp):
    name = _a_member(sim)
    _sb_land(conn, sim, statbate.MEMBER_INFO_TABLE, name, lambda c, r, b: statbate.fetch_info(c, r, "member", name, b))


TIPS_WINDOW = (T - timedelta(days=2), T)


def _sb_tips_save(kind: str, who: Callable):
    def save(sim, tmp):
        name, pages, page = who(sim), [], 1
        while True:  # every page of the window, as `fetch_tips` asks for them
            params = {"range[0]": TIPS_WINDOW[0].strftime("%Y-%m-%d %H:%M:%S"),
                      "range[1]": TIPS_WINDOW[1].strftime("%Y-%m-%d %H:%M:%S"), "per_page": statbate.PER_PAGE,
                      "page": page}
            pages.append(_sb_get(sim, kind, name, "tips", **params))
            if page >= json.loads(pages[-1])["meta"]["pagination"]["last_page"]:
                break
            page += 1
        # one page as it came; several as a list
        return (pages[0] if len(pages) == 1 else b"[" + b",".join(pages) + b"]"), []
    return save


def _sb_tips_live(kind: str, who: Callable):
    def live(conn, sim, pg_url, tmp):
        name = who(sim)
        _sb_land(conn, sim, statbate.TIPS_TABLE, name,
                 lambda c, r, b: statbate.fetch_tips(c, r, kind, name, *TIPS_WINDOW, b))
    return live


# --- the table --------------------------------------------------------------------------------------------
@dataclass
class Case:
    source: str  # as `mhc land` takes it
    table: str
    save: Callable  # (sim, tmp) -> (the answer's bytes as served, extra CLI args)
    live: Callable  # (conn, sim, pg_url, tmp): the live path lands the same answer at LIVE_AT
    alter: Callable[[Any], None]  # change the saved answer, keeping its identity (a "different file")
    wrong: Any  # an answer of another shape (typically another source's)
    facts: list[str] = field(default_factory=list)  # what staging reads from the request: equal live and replayed
    vary: tuple[str, ...] = ()  # payload keys that differ between two fetches of the same answer


def _first_entry(data: dict) -> dict:
    return next(e for e in data["data"].values() if e.get("room_status") == "Online")


def _alter_activity(data):
    day = sorted(data["details"])[-1]
    data["details"][day][0]["viewers"] = "123456"


def _alter_tips(data):
    page = data[0] if isinstance(data, list) else data
    page["data"][0]["usd"] = 1234.5


CASES = [
    Case("affiliate", affiliate.TABLE, _affiliate_save, _affiliate_live,
         alter=lambda d: d["results"][0].update(num_users=99999),
         wrong={"server_status": "up", "data": {}}),
    Case("cbhours-live", cbhours.LIVE_TABLE, _cbhours_live_save, _cbhours_live_live,
         alter=lambda d: _first_entry(d).update(viewers=99999),
         wrong={"results": [], "count": 0}),
    Case("cbhours-activity", cbhours.ACTIVITY_TABLE, _cbhours_activity_save, _cbhours_activity_live,
         alter=_alter_activity, wrong={"server_status": "up", "data": {}},
         facts=[r"[?&]username=([^&#]*)", r"[?&]start_date=([^&#]*)", r"[?&]end_date=([^&#]*)", r"[?&]tzo=([^&#]*)"],
         vary=("response_time",)),
    Case("events", events.TABLE, _events_save, _events_live,
         alter=lambda d: d["events"][-1]["object"].update(broadcaster="someone_else"),
         wrong={"username": "x", "token_balance": 1}),
    Case("stats", stats.TABLE, _stats_save, _stats_live,
         alter=lambda d: d.update(num_followers=d["num_followers"] + 1),
         wrong={"events": [], "nextUrl": "http://example.invalid/"}),
    Case("statbate-model-info", statbate.MODEL_INFO_TABLE, _sb_model_info_save, _sb_model_info_live,
         alter=lambda d: d["data"].update(rank=1), wrong={"data": {"name": "x", "did": 1}, "meta": {}},
         facts=[r"/(model|members)/([^/?]+)/([^/?]+)/info"]),
    Case("statbate-member-info", statbate.MEMBER_INFO_TABLE, _sb_member_info_save, _sb_member_info_live,
         alter=lambda d: d["data"].update(all_time_tokens=1), wrong={"error": "Model not found"},
         facts=[r"/(model|members)/([^/?]+)/([^/?]+)/info"]),
    Case("statbate-tips", statbate.TIPS_TABLE, _sb_tips_save("model", _busiest_model),
         _sb_tips_live("model", _busiest_model), alter=_alter_tips,
         wrong={"data": {"name": "x", "rid": 1}, "meta": {}},
         facts=[r"/(model|members)/([^/?]+)/([^/?]+)/tips"]),
]
CASES.append(Case("statbate-tips", statbate.TIPS_TABLE, _sb_tips_save("member", _a_member),
                  _sb_tips_live("member", _a_member), alter=_alter_tips, wrong={"data": [], "meta": {}},
                  facts=[r"/(model|members)/([^/?]+)/([^/?]+)/tips"]))
IDS = [c.source for c in CASES[:-1]] + ["statbate-tips-member"]


@pytest.fixture()
def frozen(fresh_sim):
    """The session simulator, frozen at a time the owner is on line (the Events API has a backlog), with
    the per-client rate limits off (they are not under test here)."""
    t = T
    while not (fresh_sim.world.is_online(fresh_sim.world.owner, t)
               and fresh_sim.world.is_online(fresh_sim.world.owner, t - timedelta(minutes=6))):
        t += timedelta(minutes=10)
    fresh_sim.set_time(t)
    fresh_sim.cbhours_rate_limit = False
    fresh_sim.statbate_rate_limit = 0
    sim_stats.configure(fresh_sim, reset=True, **sim_stats.DEFAULTS)
    yield fresh_sim
    fresh_sim.cbhours_rate_limit = True
    fresh_sim.statbate_rate_limit = 120
    # the Affiliate `duplicates` fault repeats the last page served: not one of this module's, of another time
    fresh_sim.source_state("affiliate").pop("last_page", None)


def _land(pg_url, source: str, path: Path, *flags: str) -> subprocess.CompletedProcess:
    """`mhc land` as an operator runs it: its own process."""
    cmd = [sys.executable, "-m", "mhc_pipeline.cli", "land", source, str(path), "--fetched-at", REPLAY_AT, *flags]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MHC_DATABASE_URL": pg_url},
                          timeout=120)


def _land_here(capsys, source: str, path: Path, *flags: str, at: str = REPLAY_AT) -> subprocess.CompletedProcess:
    """The same command in this process (no second interpreter start: the test stays fast)."""
    from mhc_pipeline import cli

    capsys.readouterr()
    code = cli.main(["land", source, str(path), "--fetched-at", at, *flags])
    out = capsys.readouterr()
    return subprocess.CompletedProcess([], code, out.out, out.err)


def _reset(conn) -> None:
    """Empty every raw table, its ledger and the cursors (the dbt schemas are not this module's business)."""
    for table in RAW_TABLES:
        load.ensure_raw_table(conn, table)
    with conn.cursor() as cur:
        cur.execute("truncate raw.batches, raw.quarantine, " + ", ".join(f"raw.{t}" for t in RAW_TABLES))
        cur.execute("drop table if exists raw.cursors")
    conn.commit()


def _rows(conn, table: str) -> list[tuple[Any, str]]:
    with conn.cursor() as cur:
        cur.execute(f"select payload, request from raw.{table} order by fetched_at, batch_id, row_no")
        rows = cur.fetchall()
    conn.commit()
    return rows


def _ledger(conn, table: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("select rows, quarantined from raw.batches where raw_table = %s order by fetched_at", (table,))
        rows = cur.fetchall()
    conn.commit()
    return rows


def _secrets() -> list[str]:
    return [s.sim_value for s in settings.SETTINGS if s.kind in ("credential", "secret") and s.sim_value]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_saved_answer_lands_through_the_cli_as_the_live_path_lands_it(case: Case, frozen, conn, pg_url,
                                                                         tmp_path, capsys):
    sim = frozen
    _reset(conn)
    body, args = case.save(sim, tmp_path)
    path = tmp_path / f"{case.source}-answer.json"
    path.write_bytes(body)

    # what the live path lands for that answer
    case.live(conn, sim, pg_url, tmp_path)
    live, live_ledger = _rows(conn, case.table), _ledger(conn, case.table)
    assert live, "the live path landed nothing: the case tests nothing"

    # the replay, into empty raw tables
    _reset(conn)
    out = _land(pg_url, case.source, path, *args)
    assert out.returncode == 0, out.stderr
    assert f"landed: {len(live)} rows into raw.{case.table}, 0 quarantined" in out.stdout, out.stdout
    replayed = _rows(conn, case.table)
    strip = (lambda p: {k: v for k, v in p.items() if k not in case.vary}) if case.vary else (lambda p: p)
    assert [strip(p) for p, _ in replayed] == [strip(p) for p, _ in live]  # row for row, in order
    assert _ledger(conn, case.table) == live_ledger
    for (_, live_request), (_, request) in zip(live, replayed):
        assert request.startswith(f"file://{path.name}"), request
        for fact in case.facts:  # what staging reads from the request is the same as the live request's
            assert re.search(fact, request).groups() == re.search(fact, live_request).groups(), (request, live_request)
    for secret in _secrets():  # (the payloads are the live ones, compared above: e.g. Events' nextUrl is not kept)
        stored = count(conn, f"select count(*) from raw.{case.table} where request like %s", f"%{secret}%")
        stored += count(conn, "select count(*) from raw.batches where meta::text like %s", f"%{secret}%")
        assert stored == 0 and secret not in out.stdout + out.stderr, "a secret was stored or printed"

    # twice is once
    again = _land_here(capsys, case.source, path, *args)
    assert again.returncode == 0 and "already landed, nothing changed" in again.stdout, again.stdout + again.stderr
    assert _rows(conn, case.table) == replayed

    # a different file with the same identity is refused in one line, then replaces the held one when asked
    data = json.loads(body)
    case.alter(data)
    other = tmp_path / f"{case.source}-corrected.json"
    other.write_text(json.dumps(data))
    refused = _land_here(capsys, case.source, other, *args)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "--replace" in refused.stderr, refused.stderr
    assert _rows(conn, case.table) == replayed
    replaced = _land_here(capsys, case.source, other, *args, "--replace")
    assert replaced.returncode == 0 and "replaced the batch" in replaced.stdout, replaced.stdout + replaced.stderr
    assert len(_rows(conn, case.table)) == len(replayed) and _rows(conn, case.table) != replayed

    # an answer of another shape: one line naming the file, exit 2, nothing landed
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(case.wrong))
    before = count(conn, "select count(*) from raw.batches") + count(conn, "select count(*) from raw.quarantine")
    bad = _land_here(capsys, case.source, wrong, *args)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "wrong.json" in lines[0] and "Nothing was landed" in lines[0], bad.stderr
    after = count(conn, "select count(*) from raw.batches") + count(conn, "select count(*) from raw.quarantine")
    assert after == before


def test_every_replayable_source_is_in_the_table_and_the_help():
    from mhc_pipeline.cli.land import LAND_HELP

    assert {c.source for c in CASES} == set(REPLAYABLE)
    for name in REPLAYABLE:
        assert re.search(rf"^  {re.escape(name)} ", LAND_HELP, re.M), name


def test_an_events_replay_and_the_live_drain_land_each_event_once_and_the_cursor_is_the_drains(frozen, conn,
                                                                                             pg_url, tmp_path,
                                                                                             capsys):
    """An event is identified by its id, whatever answer carried it and whenever: a saved answer replayed
    before the drain is skipped by the drain, one replayed after it lands nothing, at any --fetched-at; the
    replay never moves the drain's cursor."""
    res = _events_res(frozen)
    path = tmp_path / "events.json"
    path.write_bytes(_events_save(frozen, tmp_path)[0])
    ids = [e["id"] for e in json.loads(path.read_bytes())["events"]]
    assert ids

    _reset(conn)
    first = _land_here(capsys, "events", path)
    assert first.returncode == 0 and f"landed: {len(ids)} rows into raw.events" in first.stdout, first
    assert load.get_cursor(conn, res.feed()) is None  # the replay did not move the live cursor
    later = _land_here(capsys, "events", path, at="2026-11-21T09:00:00Z")  # the same file, another time
    assert later.returncode == 0 and "already landed, nothing changed" in later.stdout, later
    drained = events.drain(conn, pg_url, res, poll_timeout=0, until_empty=True)
    assert drained.events_landed == 0 and drained.replayed_dropped == len(ids)
    assert load.get_cursor(conn, res.feed()) == ids[-1]  # the drain moved it past what the replay landed
    assert count(conn, "select count(*) from raw.events") == count(
        conn, "select count(distinct payload->>'id') from raw.events") == len(ids)

    _reset(conn)
    events.drain(conn, pg_url, res, poll_timeout=0, until_empty=True)
    after = _land_here(capsys, "events", path)
    assert after.returncode == 0, after
    assert f"nothing to land, nothing changed ({len(ids)} already in raw.events, by id)" in after.stdout
    assert count(conn, "select count(*) from raw.events") == len(ids)


def test_an_answer_that_does_not_name_its_person_lands_with_username_and_says_so_without(frozen, conn,
                                                                                         tmp_path, capsys):
    """A CBHours Error Code:300 answer and a StatBate 404 body do not name who was asked: --username does,
    and the request column then carries it where staging reads it, as a live request's does."""
    outsider = next(u for u in frozen.world.usernames if not frozen.world.in_trophy_db(u))
    error300 = tmp_path / "error300.json"
    error300.write_bytes(_get(f"{frozen.url}/api.php?{urlencode(cbhours.activity_params(outsider, *DAYS))}"))
    missing = tmp_path / "missing.json"
    with pytest.raises(HTTPError) as answer:
        _sb_get(frozen, "model", "nobody_here_at_all", "info")
    assert answer.value.code == 404
    missing.write_bytes(answer.value.read())  # {"error": "Model not found"}
    _reset(conn)
    for source, path, name, table, where in [
        ("cbhours-activity", error300, outsider, cbhours.ACTIVITY_TABLE, f"username={outsider}&"),
        ("statbate-model-info", missing, "nobody_here_at_all", statbate.MODEL_INFO_TABLE,
         "/model/chaturbate/nobody_here_at_all/info"),
    ]:
        refused = _land_here(capsys, source, path)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused
        assert "--username NAME" in refused.stderr and "Nothing was landed" in refused.stderr
        landed = _land_here(capsys, source, path, "--username", name)
        assert landed.returncode == 0 and f"landed: 1 rows into raw.{table}, 0 quarantined" in landed.stdout, landed
        (request,) = [r for _, r in _rows(conn, table)]
        assert request.startswith(f"file://{path.name}?") and where in request, request
    not_here = _land_here(capsys, "stats", error300, "--username", "x")
    assert not_here.returncode == 2 and "--username is only for cbhours-activity" in not_here.stderr
