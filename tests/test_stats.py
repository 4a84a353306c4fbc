"""The Chaturbate Stats API (the owner's own statistics): landing, the world's truth, idempotent re-runs,
`Unauthorized` (stop) vs `403 Try slowing down a little.` (back off), unusable answers quarantined, the
staging quirks through a real dbt build, the owner in persons, and no token anywhere."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mhc_pipeline import load
from mhc_pipeline.defs.stats import client as stats
from mhc_pipeline.simulator import stats as sim_stats
from tests.conftest import count, reset_database

TOKEN = sim_stats.DEFAULT_TOKEN
SCHEMA = "mhc"


def _owner_online(world, start: datetime, *, minutes: int = 40) -> datetime:
    """A minute at which the owner has been broadcasting for `minutes` (and still is 10 minutes later)."""
    t = start
    while not (world.is_online(world.owner, t) and world.is_online(world.owner, t - timedelta(minutes=minutes))
               and world.is_online(world.owner, t + timedelta(minutes=10))):
        t += timedelta(minutes=5)
    return t


def _owner_offline(world, start: datetime) -> datetime:
    t = start
    while world.is_online(world.owner, t) or world.is_online(world.owner, t - timedelta(minutes=5)):
        t += timedelta(minutes=5)
    return t


def _res(sim, token: str = TOKEN, **kw) -> stats.StatsResource:
    values = {"url": sim.url + "/statsapi/", "username": sim.world.owner, "token": token, "max_per_minute": 6000,
              "backoff_minutes": 60, "timeout": 10, "retries": 3}
    values.update(kw)
    return stats.StatsResource(**values)


def _reset_stats_raw(conn) -> None:
    load.ensure_raw_table(conn, stats.TABLE)
    with conn.cursor() as cur:
        cur.execute(f"truncate raw.{stats.TABLE}; delete from raw.batches where raw_table = %s;"
                    " delete from raw.quarantine where raw_table = %s;"
                    " create table if not exists raw.cursors (name text primary key, value text not null,"
                    " updated_at timestamptz not null default now());"
                    " delete from raw.cursors where name like 'stats:%%'", (stats.TABLE, stats.TABLE))
    conn.commit()


@pytest.fixture()
def clean(conn, fresh_sim):
    _reset_stats_raw(conn)
    sim_stats.configure(fresh_sim, reset=True, **sim_stats.DEFAULTS)
    yield conn
    sim_stats.configure(fresh_sim, reset=True, **sim_stats.DEFAULTS)


def _payloads(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(f"select payload from raw.{stats.TABLE} order by fetched_at")
        return [r[0] for r in cur.fetchall()]


def _stats_requests(sim) -> int:
    return sum(1 for r in sim.requests if r.path.startswith("/statsapi/"))


# ---------------------------------------------------------------------------------------------------
# landing


def test_a_cycle_lands_the_owners_snapshot_as_the_world_has_it(clean, fresh_sim, pg_url):
    world = fresh_sim.world
    t = _owner_online(world, datetime(2026, 11, 20, 0, 0, tzinfo=UTC))
    fresh_sim.set_time(t)
    result = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), t)
    assert result.outcome == "landed" and result.landed.rows == 1 and result.landed.quarantined == 0
    [payload] = _payloads(clean)
    assert payload == sim_stats.snapshot(fresh_sim, t)
    # the same world as the Affiliate feed: followers and viewers of the owner's room at that minute
    room = world.room(world.owner, t)
    assert payload["num_followers"] == room["num_followers"] == world.num_followers(world.owner, t)
    assert payload["num_viewers"] == room["num_users"] > 0
    assert payload["time_online"] == (t - world.session_start(world.owner, t)).total_seconds() // 60 > 0
    assert payload["num_tokened_viewers"] <= payload["num_registered_viewers"] <= payload["num_viewers"]
    # tips in the last hour are the Events API's tips
    tips = [e for e in fresh_sim.events_until(t, since=t - timedelta(hours=1)) if e["method"] == "tip"]
    assert payload["tips_in_last_hour"] == len(tips)
    with clean.cursor() as cur:
        cur.execute(f"select request, fetched_at, source from raw.{stats.TABLE}")
        request, fetched_at, source = cur.fetchone()
    assert "token=***" in request and TOKEN not in request and f"username={world.owner}" in request
    assert fetched_at == t and source == "stats"


def test_the_snapshot_refreshes_every_5_minutes_and_offline_sentinels_are_minus_1(clean, fresh_sim):
    world = fresh_sim.world
    t = _owner_offline(world, datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    a, b = sim_stats.snapshot(fresh_sim, t), sim_stats.snapshot(fresh_sim, t + timedelta(minutes=4, seconds=59))
    assert a == b  # same 5-minute snapshot
    assert a["time_online"] == -1 and a["num_viewers"] == 0
    last_end = max(e for _s, e in world.sessions(world.owner, t - timedelta(days=2), t) if e <= t)
    assert isinstance(a["last_broadcast"], str) and "+" not in a["last_broadcast"]  # naive, as the real API
    assert datetime.fromisoformat(a["last_broadcast"]).replace(second=0, microsecond=0) == last_end.replace(
        tzinfo=None)
    fresh = sim_stats.snapshot(fresh_sim, t, new_account=True)
    assert fresh["last_broadcast"] == -1 and fresh["time_online"] == -1 and fresh["tips_in_last_hour"] is None


def test_landing_the_same_cycle_again_changes_nothing(clean, fresh_sim, pg_url):
    t = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    first = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), t)
    again = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), t)
    assert first.outcome == "landed" and again.outcome == "already_landed" and again.landed.rows == 0
    assert count(clean, f"select count(*) from raw.{stats.TABLE}") == 1
    assert count(clean, "select count(*) from raw.batches where raw_table = %s", stats.TABLE) == 1
    later = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), t + timedelta(minutes=5))
    assert later.outcome == "landed" and count(clean, f"select count(*) from raw.{stats.TABLE}") == 2


def test_429_and_503_are_retried_then_land(clean, fresh_sim, pg_url):
    fresh_sim.inject("/statsapi/", "status", status=429, retry_after=0)
    fresh_sim.inject("/statsapi/", "status", status=503)
    result = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    assert result.outcome == "landed" and result.retries == 2 and result.landed.rows == 1


# ---------------------------------------------------------------------------------------------------
# errors: stop vs back off vs quarantine


@pytest.mark.parametrize("status", [401, 200])
def test_unauthorized_stops_with_a_clear_message_and_no_token(clean, fresh_sim, pg_url, caplog, status):
    caplog.set_level(logging.DEBUG)
    sim_stats.configure(fresh_sim, unauthorized_status=status)
    bad = "WRONGtoken0123456789abcd"
    before = _stats_requests(fresh_sim)
    with pytest.raises(stats.StatsAuthError) as info:
        stats.fetch_cycle(clean, pg_url, _res(fresh_sim, token=bad), datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    text = str(info.value)
    assert "refused the token" in text and "MHC_STATS_TOKEN" in text and f"HTTP {status}" in text
    assert bad not in text and TOKEN not in text and bad not in caplog.text
    assert _stats_requests(fresh_sim) == before + 1  # not retried
    assert count(clean, f"select count(*) from raw.{stats.TABLE}") == 0
    assert count(clean, "select count(*) from raw.quarantine where raw_table = %s", stats.TABLE) == 0


def test_a_throttle_backs_off_without_asking_again_until_it_runs_out(clean, fresh_sim, pg_url):
    sim_stats.configure(fresh_sim, rate_limit=1, throttle_seconds=600.0)
    res = _res(fresh_sim, backoff_minutes=30)
    t = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    now = datetime.now(UTC)
    assert stats.fetch_cycle(clean, pg_url, res, t, now=now).outcome == "landed"
    throttled = stats.fetch_cycle(clean, pg_url, res, t + timedelta(minutes=5), now=now)
    assert throttled.outcome == "throttled" and throttled.landed is None
    assert throttled.backoff_until == now + timedelta(minutes=30)
    assert stats.backoff_until(clean, res) == throttled.backoff_until
    assert sim_stats.settings_of(fresh_sim)["throttled"] == 1
    # inside the back-off: the API is not asked at all
    asked = _stats_requests(fresh_sim)
    waiting = stats.fetch_cycle(clean, pg_url, res, t + timedelta(minutes=10), now=now + timedelta(minutes=10))
    assert waiting.outcome == "backing_off" and _stats_requests(fresh_sim) == asked
    assert count(clean, f"select count(*) from raw.{stats.TABLE}") == 1
    assert count(clean, "select count(*) from raw.quarantine where raw_table = %s", stats.TABLE) == 0
    # after it: asked again, lands, and the back-off is forgotten
    sim_stats.configure(fresh_sim, reset=True, rate_limit=0)
    after = stats.fetch_cycle(clean, pg_url, res, t + timedelta(minutes=35), now=now + timedelta(minutes=31))
    assert after.outcome == "landed" and stats.backoff_until(clean, res) is None


@pytest.mark.parametrize("fault,expect", [("html", "HTML page"), ("malformed", "malformed JSON")])
def test_an_unusable_answer_is_quarantined_and_fails(clean, fresh_sim, pg_url, fault, expect):
    fresh_sim.inject("/statsapi/", fault)
    t = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    with pytest.raises(stats.StatsUnusable) as info:
        stats.fetch_cycle(clean, pg_url, _res(fresh_sim), t)
    assert expect in str(info.value) and TOKEN not in str(info.value)
    with clean.cursor() as cur:
        cur.execute("select reason, request, body from raw.quarantine where raw_table = %s", (stats.TABLE,))
        [(reason, request, body)] = cur.fetchall()
    assert expect in reason and "token=***" in request and TOKEN not in request + reason + body
    assert count(clean, f"select count(*) from raw.{stats.TABLE}") == 0


def test_a_cloudflare_403_is_not_mistaken_for_the_throttle(clean, fresh_sim, pg_url):
    fresh_sim.inject("/statsapi/", "status", status=403)  # the HTML "Sorry, you have been blocked" page
    with pytest.raises(stats.StatsUnusable, match="HTML"):
        stats.fetch_cycle(clean, pg_url, _res(fresh_sim), datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    assert stats.backoff_until(clean, _res(fresh_sim)) is None


def test_a_snapshot_with_a_wrong_type_is_quarantined_with_its_reason(clean, fresh_sim, pg_url):
    fresh_sim.inject("/statsapi/", "bad_row")
    result = stats.fetch_cycle(clean, pg_url, _res(fresh_sim), datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    assert result.outcome == "quarantined" and result.landed.rows == 0 and result.landed.quarantined == 1
    with clean.cursor() as cur:
        cur.execute("select reason, payload from raw.quarantine where raw_table = %s", (stats.TABLE,))
        [(reason, payload)] = cur.fetchall()
    assert "num_followers" in reason and payload["num_followers"] == "lots"


# ---------------------------------------------------------------------------------------------------
# Dagster: the asset's outcomes


def _materialize_stats(resource: stats.StatsResource, fetched_at: datetime | None = None):
    from mhc_pipeline.resources import PostgresResource

    config = {"fetched_at": fetched_at.isoformat()} if fetched_at else {}
    return dg.materialize([stats.stats_api],
                          resources={"postgres": PostgresResource(url=os.environ["MHC_DATABASE_URL"]),
                                     "stats": resource},
                          run_config={"ops": {"raw__stats_api": {"config": config}}}, raise_on_error=False)


def test_the_asset_fails_on_unauthorized_and_observes_a_throttle(clean, fresh_sim, pg_url):
    bad = "WRONGtoken0123456789abcd"
    failed = _materialize_stats(_res(fresh_sim, token=bad))
    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.message
    assert "MHC_STATS_TOKEN" in message and bad not in message and TOKEN not in message

    sim_stats.configure(fresh_sim, throttle=True)
    throttled = _materialize_stats(_res(fresh_sim))
    assert throttled.success and not throttled.get_asset_materialization_events()
    [obs] = throttled.get_asset_observation_events()
    meta = obs.event_specific_data.asset_observation.metadata
    assert meta["outcome"].value == "throttled" and meta["backoff_until"].value
    # a green run that landed nothing is visible where an operator looks: a warning check with the end
    [check] = throttled.get_asset_check_evaluations()
    assert check.check_name == "stats_api_answering" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["backoff_until"].value == meta["backoff_until"].value
    until = datetime.fromisoformat(meta["backoff_until"].value).astimezone(UTC)
    assert f"until {until:%Y-%m-%d %H:%M:%S} UTC" in check.description  # the time the back-off ends, in UTC
    again = _materialize_stats(_res(fresh_sim))
    [obs] = again.get_asset_observation_events()
    assert obs.event_specific_data.asset_observation.metadata["outcome"].value == "backing_off"
    [check] = again.get_asset_check_evaluations()
    assert not check.passed and "backing off after a throttle until" in check.description


# ---------------------------------------------------------------------------------------------------
# end to end: Dagster + dbt (one build for the module)


@pytest.fixture(scope="module")
def built(pg_url, sim):
    """Three cycles (owner online, owner offline, a never-broadcast account), a duplicate batch of one
    cycle, then ONE dbt build with the fourth cycle landed by the Dagster asset in the same run."""
    from mhc_pipeline import db
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        _reset_stats_raw(conn)
        sim.clear_faults()
        sim_stats.configure(sim, reset=True, **sim_stats.DEFAULTS)
        world = sim.world
        t_on = _owner_online(world, datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
        t_off = _owner_offline(world, t_on)
        t_new = t_off + timedelta(minutes=5)
        saved = os.environ.get("MHC_STATS_MAX_PER_MINUTE")
        os.environ["MHC_STATS_MAX_PER_MINUTE"] = "6000"
        try:
            res = _res(sim)
            truth = {}
            for t in (t_on, t_off):
                sim.set_time(t)
                truth[t] = sim_stats.snapshot(sim, t)
                assert stats.fetch_cycle(conn, pg_url, res, t).outcome == "landed"
            sim_stats.configure(sim, new_account=True)
            sim.set_time(t_new)
            truth[t_new] = sim_stats.snapshot(sim, t_new)
            assert stats.fetch_cycle(conn, pg_url, res, t_new).outcome == "landed"
            sim_stats.configure(sim, new_account=False)
            # the same cycle in a second batch (e.g. landed by another process): one history row
            dup = load.Batch(source=stats.SOURCE, table=stats.TABLE, fetched_at=t_on, records=[truth[t_on]],
                             requests=["replay"], key="duplicate-of-t_on")
            assert load.land(conn, dup).rows == 1
            t_last = t_new + timedelta(minutes=5)
            sim.set_time(t_last)
            truth[t_last] = sim_stats.snapshot(sim, t_last)
            result = dg.materialize(
                [stats.stats_api, mhc_dbt_models], resources=defs.resources,
                run_config={"ops": {"raw__stats_api": {"config": {"fetched_at": t_last.isoformat()}},
                                    "mhc_dbt_models": {"config": {"as_of": t_last.isoformat()}}}},
                raise_on_error=False)
        finally:
            if saved is None:
                os.environ.pop("MHC_STATS_MAX_PER_MINUTE", None)
            else:
                os.environ["MHC_STATS_MAX_PER_MINUTE"] = saved
            sim.set_time(None)
        yield {"result": result, "truth": truth, "t_on": t_on, "t_off": t_off, "t_new": t_new, "t_last": t_last,
               "conn": conn}


def _rows(conn, sql: str, *params) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_the_pipeline_builds_and_every_check_passes(built):
    result = built["result"]
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    failed = [c.check_name for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    landing = meta["raw/stats_api"]
    assert landing["outcome"].value == "landed" and landing["rows_landed"].value == 1
    assert landing["num_followers"].value == built["truth"][built["t_last"]]["num_followers"]


def test_snapshots_hold_one_row_per_cycle_with_every_quirk_normalised(built):
    conn = built["conn"]
    rows = {r["captured_at"]: r for r in _rows(conn, f"select * from {SCHEMA}.snapshots")}
    assert set(rows) == {built["t_on"], built["t_off"], built["t_new"], built["t_last"]}  # the duplicate: once
    on, off, new = rows[built["t_on"]], rows[built["t_off"]], rows[built["t_new"]]
    truth_on, truth_off = built["truth"][built["t_on"]], built["truth"][built["t_off"]]
    assert on["is_broadcasting"] and on["time_online_minutes"] == truth_on["time_online"] > 0
    assert on["num_viewers"] == truth_on["num_viewers"] and on["tips_in_last_hour"] == truth_on["tips_in_last_hour"]
    # naive ISO last_broadcast read as UTC
    naive = datetime.fromisoformat(truth_on["last_broadcast"])
    assert on["last_broadcast_at"] == naive.replace(tzinfo=UTC)
    assert on["last_broadcast_raw"] == truth_on["last_broadcast"]
    # -1 sentinels become null
    assert not off["is_broadcasting"] and off["time_online_minutes"] is None
    assert off["last_broadcast_at"] == datetime.fromisoformat(truth_off["last_broadcast"]).replace(tzinfo=UTC)
    assert new["last_broadcast_at"] is None and new["last_broadcast_raw"] == "-1"
    assert new["time_online_minutes"] is None and new["tips_in_last_hour"] is None and not new["is_broadcasting"]
    assert {r["source"] for r in rows.values()} == {"cb_stats"}
    assert all(r["raw_payload"]["username"] == built["truth"][t]["username"] for t, r in rows.items())


def test_the_owner_is_a_person_and_stats_is_a_monitored_source(built):
    conn = built["conn"]
    owner = built["truth"][built["t_on"]]["username"]
    [person] = _rows(conn, f"select * from {SCHEMA}.persons where username = %s", owner)
    assert person["role"] == "owner"
    assert count(conn, f"""select count(*) from {SCHEMA}.snapshots s
                           left join {SCHEMA}.persons p on p.id = s.person_id where p.id is null""") == 0
    [fresh] = _rows(conn, f"select * from {SCHEMA}.source_freshness where source = 'stats'")
    # the build's as_of is the simulated t_last, before the real landing time: observed, not yet "landed"
    assert fresh["raw_table"] == "stats_api" and fresh["history_model"] == "snapshots"
    assert fresh["newest_observed_at"] == built["t_last"]
    [cover] = _rows(conn, f"select * from {SCHEMA}.source_coverage where source = 'stats'")
    assert cover["persons_covered"] == 1


def test_no_stats_token_anywhere(built):
    conn = built["conn"]
    hits = []
    with conn.cursor() as cur:
        cur.execute("""select table_schema, table_name, column_name from information_schema.columns
                       where table_schema in ('raw', 'mhc', 'staging', 'intermediate')
                         and data_type in ('text', 'jsonb', 'json', 'character varying', 'ARRAY')""")
        for schema, table, column in cur.fetchall():
            cur.execute(f'select count(*) from {schema}."{table}" where "{column}"::text like %s', (f"%{TOKEN}%",))
            if cur.fetchone()[0]:
                hits.append(f"{schema}.{table}.{column}")
    assert not hits
    # nor in any Dagster event of the run (logs, metadata, descriptions)
    for event in built["result"].all_events:
        assert TOKEN not in str(event), event.event_type_value
