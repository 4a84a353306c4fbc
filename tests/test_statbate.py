"""StatBate Plus: landing (model/member info, paged tips), windows since the last tip, 404 as a fact,
401/429/HTML/malformed/bad rows, the token never stored or logged, and (one dbt build) staging of both
date formats, append-only history, tips kept once by their identity, persons, and the gender merge."""

import logging
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mhc_pipeline import load
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.defs.statbate import client as statbate
from mhc_pipeline.load import Batch
from mhc_pipeline.simulator import statbate as sim_sb
from tests.conftest import count, reset_database, reset_raw

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
TOKEN = sim_sb.DEFAULT_TOKEN
TABLES = (*statbate.TABLES, "events")


@pytest.fixture()
def clean(conn, fresh_sim):
    for table in TABLES:
        load.ensure_raw_table(conn, table)
    conn.commit()
    reset_raw(conn, *TABLES)
    with conn.cursor() as cur:
        cur.execute("create table if not exists raw.cursors (name text primary key, value text not null,"
                    " updated_at timestamptz not null default now())")
        cur.execute("delete from raw.cursors where name like 'statbate:%'")
    conn.commit()
    fresh_sim.statbate_rate_limit = 0  # the client's own limit is not under test here (except below)
    yield conn
    fresh_sim.statbate_rate_limit = 120


def _res(sim, token: str = TOKEN, retries: int = 2, tips_days: int = 2) -> statbate.StatBateResource:
    return statbate.StatBateResource(url=sim.url + "/statbate/api", token=token, max_per_minute=60000,
                                     tips_days=tips_days, timeout=10, retries=retries, max_members=50)


def _tracking(sim, watch: list[str], max_models: int) -> cbhours.TrackingResource:
    return cbhours.TrackingResource(watchlist=",".join(watch), owner=sim.world.owner, max_models=max_models)


def _land_tip_events(conn, names: list[str], at: datetime) -> None:
    """The owner's tippers, as the Events API landed them."""
    events = [{"method": "tip", "id": f"{int(at.timestamp() * 1000) + i}-0",
               "object": {"broadcaster": "x", "tip": {"tokens": 10, "isAnon": False, "message": ""},
                          "user": {"username": n}}} for i, n in enumerate(names)]
    load.land(conn, Batch(source="events", table="events", fetched_at=at, records=events, scope="test"))


def _tips(conn, kind: str, name: str) -> set[tuple]:
    """Tip identities landed for one person and side: (time text, counterparty, tokens)."""
    side = "model" if kind == "model" else "members"
    other = "name" if kind == "model" else "model"
    with conn.cursor() as cur:
        cur.execute(f"""select t->>'time', t->>'{other}', (t->>'tokens')::int
                          from raw.statbate_tips, jsonb_array_elements(payload->'data') t
                         where request like %s""", (f"%/{side}/chaturbate/{name}/tips%",))
        rows = cur.fetchall()
    return rows


def _truth(world, kind: str, name: str, start: datetime, end: datetime) -> list[tuple]:
    if kind == "model":
        return [(t["time"], t["member"], t["tokens"]) for t in sim_sb.model_tips(world, name, start, end)]
    return [(t["time"], t["model"], t["tokens"]) for t in sim_sb.member_tips(world, name, start, end)]


def _as_truth(rows) -> list[tuple]:
    return sorted(((statbate.parse_statbate_time(t), o, n) for t, o, n in rows), reverse=True)


def test_daily_run_lands_info_paged_tips_and_the_owners_tippers(clean, fresh_sim, pg_url):
    world = fresh_sim.world
    busiest = max(world.usernames, key=lambda u: len(sim_sb.model_tips(world, u, T - timedelta(days=30), T)))
    assert len(sim_sb.model_tips(world, busiest, T - timedelta(days=30), T)) > statbate.PER_PAGE  # > 1 page
    watch = [busiest] + [u for u in world.usernames[5:7] if u != busiest]
    tippers = sim_sb.members(world)[:3] + ["ghost_tipper_zz"]  # the last one StatBate does not know
    _land_tip_events(clean, tippers, T - timedelta(hours=1))
    res = _res(fresh_sim, tips_days=30)
    collected, landed = statbate.run(clean, res, pg_url, fetched_at=T, username=None,
                                     tracking=_tracking(fresh_sim, watch, 4))
    models = watch + [world.owner]
    assert set(collected.found["model"]) == set(models) and all(collected.found["model"].values())
    assert collected.found["member"] == {n: n != "ghost_tipper_zz" for n in tippers}
    assert landed[statbate.MODEL_INFO_TABLE].rows == 4 and landed[statbate.MEMBER_INFO_TABLE].rows == 4
    assert sum(x.quarantined for x in landed.values()) == 0
    assert collected.member_info.meta["not_found"] == 1
    # every tip of every tracked model in the 30-day window, over every page (per_page 200)
    for name in models:
        assert _as_truth(_tips(clean, "model", name)) == _truth(world, "model", name, T - timedelta(days=30), T)
    assert collected.tips.meta["pages"] > len(models)  # the busiest model needed more than one page
    assert count(clean, "select count(*) from raw.statbate_tips where request like %s",
                 f"%/{busiest}/tips%") >= 2
    # member tips are not fetched daily (member info only); cursors moved with the tips
    assert count(clean, "select count(*) from raw.statbate_tips where request like '%%/members/%%'") == 0
    assert count(clean, "select count(*) from raw.cursors where name like 'statbate:model_tips:%%'") == 4
    with clean.cursor() as cur:
        cur.execute("select payload from raw.statbate_member_info where request like '%ghost_tipper_zz%'")
        assert cur.fetchone()[0] == {"error": "Member not found"}


def test_windows_start_at_the_last_tip_and_overlapping_refetches_add_nothing(clean, fresh_sim, pg_url):
    world = fresh_sim.world
    name = world.usernames[2]
    tracking = _tracking(fresh_sim, [name], 1)
    res = _res(fresh_sim, tips_days=2)
    statbate.run(clean, res, pg_url, fetched_at=T, username=None, tracking=tracking)
    first = _tips(clean, "model", name)
    # the same run again (same fetch time): the same batches, nothing lands twice
    _, again = statbate.run(clean, res, pg_url, fetched_at=T, username=None, tracking=tracking)
    assert all(x.already_landed and x.rows == 0 for x in again.values())
    # a later run: its window starts at the last tip fetched (inclusive), not 2 days back
    cursor = load.get_cursor(clean, statbate.cursor_name("model", name))
    assert cursor and datetime.fromisoformat(cursor) == max(_as_truth(first))[0]
    later = T + timedelta(hours=6)
    fresh_sim.set_time(later)
    statbate.run(clean, res, pg_url, fetched_at=later, username=None, tracking=tracking)
    with clean.cursor() as cur:
        cur.execute("select request from raw.statbate_tips where fetched_at = %s", (later,))
        requests = [r[0] for r in cur.fetchall()]
    start = datetime.fromisoformat(cursor).strftime("%Y-%m-%d+%H%%3A%M%%3A%S")
    assert requests and all(f"range%5B0%5D={start}" in r for r in requests)
    every = _tips(clean, "model", name)
    identities = set(every)
    assert len(every) > len(identities)  # the overlap re-fetched the last tip...
    assert _as_truth(identities) == _truth(world, "model", name, T - timedelta(days=2), later)  # ...once


def test_lookup_fetches_both_sides_and_a_404_is_a_fact(clean, fresh_sim, pg_url):
    world = fresh_sim.world
    viewer = sim_sb.members(world)[10]
    tracking = _tracking(fresh_sim, [], 1)
    res = _res(fresh_sim, tips_days=20)
    collected, landed = statbate.run(clean, res, pg_url, fetched_at=T, username=viewer.upper(), tracking=tracking)
    assert collected.found == {"model": {viewer: False}, "member": {viewer: True}}
    assert collected.model_info.meta["answer"] == "not found" and collected.member_info.meta["answer"] == "found"
    assert sum(x.quarantined for x in landed.values()) == 0
    with clean.cursor() as cur:
        cur.execute("select payload, request from raw.statbate_model_info")
        payload, request = cur.fetchone()
    assert payload == {"error": "Model not found"} and f"/model/chaturbate/{viewer}/info" in request
    # member tips in ISO-8601 dates, exactly the world's
    assert _as_truth(_tips(clean, "member", viewer)) == _truth(world, "member", viewer, T - timedelta(days=20), T)
    # a model is a member too (models tip): both sides and both kinds of tips
    model = world.usernames[7]
    collected, _ = statbate.run(clean, res, pg_url, fetched_at=T, username=model, tracking=tracking)
    assert collected.found == {"model": {model: True}, "member": {model: True}}
    assert count(clean, "select count(*) from raw.statbate_tips where request like %s",
                 f"%/model/chaturbate/{model}/%") >= 1
    assert count(clean, "select count(*) from raw.statbate_tips where request like %s",
                 f"%/members/chaturbate/{model}/%") >= 1


def test_a_refused_token_stops_the_run_with_a_clear_message_and_is_never_stored(clean, fresh_sim, pg_url, caplog):
    bad = "7|wrong-token-for-this-account-xyz"
    res = _res(fresh_sim, token=bad)
    caplog.set_level(logging.DEBUG, logger="mhc_pipeline")
    with pytest.raises(statbate.StatBateAuthError) as err:
        statbate.run(clean, res, pg_url, fetched_at=T, username=fresh_sim.world.usernames[3],
                     tracking=_tracking(fresh_sim, [], 1))
    message = str(err.value)
    assert "HTTP 401" in message and "MHC_STATBATE_TOKEN" in message and bad not in message
    assert count(clean, "select count(*) from raw.quarantine where raw_table = 'statbate_model_info' "
                        "and item = 'auth' and reason like '%%401%%'") == 1
    assert count(clean, "select count(*) from raw.statbate_model_info") == 0
    # a good run, then: neither token anywhere in the raw tables, the bookkeeping or the log
    statbate.run(clean, _res(fresh_sim), pg_url, fetched_at=T, username=fresh_sim.world.usernames[3],
                 tracking=_tracking(fresh_sim, [], 1))
    for secret in (bad, TOKEN, TOKEN.split("|", 1)[1]):
        for table in (*statbate.TABLES, "quarantine", "batches"):
            assert count(clean, f"select count(*) from raw.{table} t where t::text like %s", f"%{secret}%") == 0
        assert secret not in caplog.text


def test_the_asset_fails_its_run_on_a_refused_token_and_names_the_setting(clean, fresh_sim, pg_url):
    from mhc_pipeline.resources import PostgresResource

    bad = "9|another-wrong-token-abcdef"
    result = dg.materialize(
        [statbate.statbate_landing],
        resources={"postgres": PostgresResource(url=pg_url), "statbate": _res(fresh_sim, token=bad),
                   "tracking": _tracking(fresh_sim, [fresh_sim.world.usernames[3]], 1)},
        run_config={"ops": {"statbate_landing": {"config": {"fetched_at": T.isoformat()}}}},
        raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error.message) + str(failure.event_specific_data.user_failure_data)
    assert "MHC_STATBATE_TOKEN" in text and "HTTP 401" in text and bad not in text


def test_bad_answers_are_quarantined_and_the_rest_lands(clean, fresh_sim, pg_url):
    world = fresh_sim.world
    names = [world.usernames[i] for i in (5, 6, 8)]
    prefix = "/statbate/api/model/chaturbate/"
    fresh_sim.inject(prefix + names[0] + "/info", "html")  # a Cloudflare challenge instead of JSON
    fresh_sim.inject(prefix + names[1] + "/info", "malformed")
    fresh_sim.inject(prefix + names[2] + "/tips", "bad_row")  # one tip with "tokens": "lots"
    collected, landed = statbate.run(clean, _res(fresh_sim, tips_days=3), pg_url, fetched_at=T, username=None,
                                     tracking=_tracking(fresh_sim, names, 3))
    assert landed[statbate.MODEL_INFO_TABLE].rows == 1 and landed[statbate.MODEL_INFO_TABLE].quarantined == 2
    assert landed[statbate.TIPS_TABLE].quarantined == 1
    with clean.cursor() as cur:
        cur.execute("select item, reason, payload from raw.quarantine order by item")
        rows = cur.fetchall()
    reasons = {item: reason for item, reason, _ in rows}
    assert "HTML" in reasons[f"model {names[0]} info"] and "malformed JSON" in reasons[f"model {names[1]} info"]
    bad = [(item, reason, payload) for item, reason, payload in rows if "tips" in item]
    assert bad[0][1].startswith("field 'tokens' has type str") and bad[0][2]["tokens"] == "lots"
    # the good tips of that page landed: every tip of the window but the bad one
    truth = _truth(world, "model", names[2], T - timedelta(days=3), T)
    assert len(_tips(clean, "model", names[2])) == len(truth) - 1


def test_rate_limit_answers_are_retried_and_a_persistent_429_is_quarantined(clean, fresh_sim, pg_url):
    name = fresh_sim.world.usernames[9]
    fresh_sim.inject("/statbate/api/model/", "status", status=429, retry_after=1)
    collected, landed = statbate.run(clean, _res(fresh_sim), pg_url, fetched_at=T, username=name,
                                     tracking=_tracking(fresh_sim, [], 1))
    assert collected.found["model"] == {name: True} and collected.model_info.meta["retries"] >= 1
    # the simulator's own limit (120/min; 2 here) without retries: the refused requests are quarantined
    fresh_sim.statbate_rate_limit = 2
    fresh_sim.source_state("statbate").clear()
    collected, landed = statbate.run(clean, _res(fresh_sim, retries=0), pg_url, fetched_at=T + timedelta(seconds=1),
                                     username=name, tracking=_tracking(fresh_sim, [], 1))
    assert sum(x.quarantined for x in landed.values()) >= 1
    assert count(clean, "select count(*) from raw.quarantine where reason like '%%HTTP 429%%Too Many Attempts%%'") >= 1
    assert fresh_sim.source_state("statbate")["limited"] >= 1


def test_time_formats_both_parse_to_utc():
    a = statbate.parse_statbate_time("2026-01-01 00:02:21")
    b = statbate.parse_statbate_time("2026-01-01T00:02:21.000000Z")
    c = statbate.parse_statbate_time("2026-01-01T01:02:21+01:00")
    assert a == b == c == datetime(2026, 1, 1, 0, 2, 21, tzinfo=UTC)


# two real tips of the same amount in the same second (one page shows both), seen again on an overlapping
# window (both again) and from the member's side (only one): two tips, not one and not five
TWINS = ("twin_model_zz", "twin_fan_zz", "2026-11-20 12:00:00", 25)


def _land_identical_tips(conn) -> None:
    model, fan, at, tokens = TWINS
    tip = {"time": at, "name": fan, "did": 901, "tokens": tokens, "usd": 1.25}
    model_page = {"data": [tip, dict(tip)], "meta": {"model": {"id": 900}}}
    member_page = {"data": [{"time": at, "model": model, "rid": 900, "tokens": tokens, "usd": 1.25}],
                   "meta": {"member": {"id": 901}}}
    pages = [(model_page, f"https://plus.statbate.com/api/model/chaturbate/{model}/tips"),
             (model_page, f"https://plus.statbate.com/api/model/chaturbate/{model}/tips"),
             (member_page, f"https://plus.statbate.com/api/members/chaturbate/{fan}/tips")]
    for n, (page, url) in enumerate(pages):  # in this order, a minute apart
        at_n = T - timedelta(hours=3) + timedelta(minutes=n)
        load.land(conn, Batch(source="statbate", table="statbate_tips", fetched_at=at_n, records=[page],
                              requests=[url]))


# ---------------------------------------------------------------------------------------------------
# One dbt build: staging, history, persons and the merge from what two StatBate runs landed.
@pytest.fixture(scope="module")
def built(pg_url, sim):
    from mhc_pipeline import db
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        conn.autocommit = False
        world = sim.world
        models = [world.usernames[i] for i in (5, 6)]
        # a tipper of a tracked model: its tips are seen from both sides (its look-up below)
        fan = sim_sb.model_tips(world, models[0], T - timedelta(days=1), T)[0]["member"]
        _land_tip_events(conn, [fan, "ghost_tipper_zz"], T - timedelta(hours=1))
        _land_identical_tips(conn)
    saved = {k: os.environ.get(k) for k in ("MHC_WATCHLIST", "MHC_TRACKED_MAX", "MHC_STATBATE_TIPS_DAYS",
                                             "MHC_STATBATE_MAX_PER_MINUTE")}
    os.environ.update(MHC_WATCHLIST=",".join(models), MHC_TRACKED_MAX="2", MHC_STATBATE_TIPS_DAYS="2",
                      MHC_STATBATE_MAX_PER_MINUTE="60000")
    sim.statbate_rate_limit = 0
    later = T + timedelta(hours=3)
    try:
        for t, username in ((T, None), (later, None), (later + timedelta(minutes=1), fan)):
            sim.set_time(t)
            config = {"fetched_at": t.isoformat(), "username": username}
            result = dg.materialize([statbate.statbate_landing], resources=defs.resources,
                                    run_config={"ops": {"statbate_landing": {"config": config}}})
            assert result.success
            for event in result.get_asset_materialization_events():  # no token in Dagster metadata
                text = str(event.event_specific_data.materialization.metadata)
                assert TOKEN not in text and TOKEN.split("|", 1)[1] not in text
        result = dg.materialize([mhc_dbt_models], resources=defs.resources, raise_on_error=False, run_config={
            "ops": {"mhc_dbt_models": {"config": {"as_of": (later + timedelta(minutes=5)).isoformat()}}}})
        failures = [e.message for e in result.all_events if e.is_failure][:3]
        assert result.success, failures
        errors = [c.check_name for c in result.get_asset_check_evaluations()
                  if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
        assert not errors
        yield {"models": models, "fan": fan, "later": later, "result": result}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sim.statbate_rate_limit = 120
        sim.set_time(None)


def test_history_is_append_only_and_404s_are_rows(built, conn):
    models = built["models"]
    # two daily runs: two model-info rows per model (the original kept two rows per person and lost the rest)
    assert count(conn, "select count(*) from mhc.statbate_model_info where username = any(%s)", models) == 4
    assert count(conn, "select count(*) from mhc.statbate_member_info where username = 'ghost_tipper_zz' "
                       "and not is_found and error_message = 'Member not found'") == 2
    with conn.cursor() as cur:
        cur.execute("select gender, gender_int, captured_at from mhc.statbate_model_info where username = %s "
                    "order by captured_at", (models[0],))
        rows = cur.fetchall()
    assert [r[2] for r in rows] == [T, built["later"]]
    assert rows[0][0] in ("f", "m", "t", "c") and {"m": 0, "f": 1, "t": 2, "c": 3}[rows[0][0]] == rows[0][1]


def test_tips_are_kept_once_across_sides_windows_and_date_formats(built, conn, sim):
    models, fan, later = built["models"], built["fan"], built["later"]
    looked_up = later + timedelta(minutes=1)
    truth = {(t["time"], t["model"], t["member"], t["tokens"])
             for m in models for t in sim_sb.model_tips(sim.world, m, T - timedelta(days=2), later)}
    truth |= {(t["time"], t["model"], t["member"], t["tokens"])
              for t in sim_sb.member_tips(sim.world, fan, looked_up - timedelta(days=2), looked_up)}
    with conn.cursor() as cur:
        cur.execute("select tipped_at, model_username, member_username, tokens from mhc.statbate_tips "
                    "where model_username <> %s", (TWINS[0],))
        held = set(cur.fetchall())
        cur.execute("select count(*), count(distinct (model_person_id, member_person_id, tipped_at, tokens)),"
                    " count(distinct seen_from) from staging.stg_statbate__tips where member_username = %s", (fan,))
        staged, distinct, sides = cur.fetchone()
    assert held == truth  # the second window overlapped the first and the look-up saw the fan's tips again
    assert count(conn, "select count(*) from mhc.statbate_tips where model_username <> %s", TWINS[0]) == len(truth)
    assert staged > distinct and sides == 2  # the fan's tips: plain dates (model side) and ISO (member side)


def test_two_identical_tips_on_one_page_are_two_tips_however_often_they_are_seen_again(built, conn):
    model, fan, _, tokens = TWINS
    with conn.cursor() as cur:
        cur.execute("select occurrence, tokens, seen_from from mhc.statbate_tips where model_username = %s "
                    "and member_username = %s order by occurrence", (model, fan))
        rows = cur.fetchall()
    assert rows == [(1, tokens, "model"), (2, tokens, "model")]  # the first fetch of each wins


def test_tippers_and_models_are_persons_and_statbate_fills_gender(built, conn, sim):
    models, fan = built["models"], built["fan"]
    with conn.cursor() as cur:
        cur.execute("select username, role from mhc.persons where username = any(%s)", (models + [fan],))
        roles = dict(cur.fetchall())
        cur.execute("select p.username, pcs.gender, pcs.gender_source from mhc.person_current_state pcs "
                    "join mhc.persons p on p.id = pcs.id where p.username = any(%s)", (models,))
        genders = {u: (g, s) for u, g, s in cur.fetchall()}
    assert roles[fan] == "viewer" and all(roles[m] in ("model", "both") for m in models)
    for m in models:  # no Affiliate or CBHours in this module: StatBate's gender wins
        assert genders[m] == (sim.world.model(m).gender, "statbate")
    assert count(conn, "select count(*) from mhc.statbate_tips t left join mhc.persons p on p.id = t.member_person_id "
                       "where p.id is null") == 0


def test_mhc_statbate_starts_the_bundled_simulator_only_when_statbate_is_the_simulators_own(fresh_sim, pg_url,
                                                                                           tmp_path):
    """Other source URLs on the simulator's port (the defaults) do not make `mhc statbate` start one:
    StatBate here is a server on another local port, and the simulator's own port is taken by a listener
    that never answers, so starting the simulator there would fail the command."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    env = dict(os.environ, MHC_DATABASE_URL=pg_url, MHC_SIMULATOR_PORT=str(port),
               MHC_STATBATE_URL=fresh_sim.url + "/statbate/api", MHC_STATBATE_TOKEN=TOKEN,
               MHC_STATBATE_MAX_PER_MINUTE="6000",
               # Affiliate stays on the (unreachable) simulator port: set so, as a deployment on a database
               # of its own must set every source URL (settings.check_deployment)
               MHC_AFFILIATE_URL=f"http://127.0.0.1:{port}/api/public/affiliates/onlinerooms/")
    for name in ("DAGSTER_HOME", "MHC_DAGSTER_PG_URL"):
        env.pop(name, None)
    try:
        name = fresh_sim.world.online_rooms(fresh_sim.now())[0]["username"]
        out = subprocess.run([str(Path(sys.executable).parent / "mhc"), "statbate", name], env=env,
                             capture_output=True, text=True, timeout=300)
    finally:
        taken.close()
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"statbate {name}: model found" in out.stdout, out.stdout
