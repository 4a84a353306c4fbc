"""End to end across Affiliate, CBHours and the Events API, through Dagster and dbt, against what the
simulator's world says is true: several poll cycles at chosen times, a fixed `as_of`, the priority
merge's winners and their sources, a 3-day activity backfill (twice), full-refresh == incremental,
and no token anywhere."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mhc_pipeline.simulator import cbhours as sim_cbhours
from tests.conftest import count, reset_database

SCHEMA = "mhc"
TOKEN_SETTING = "MHC_EVENTS_TOKEN"


def _pick_time(world) -> datetime:
    """A recent minute at which the owner broadcasts (so the room has events) for the past 30 min."""
    t = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    while not (world.is_online(world.owner, t) and world.is_online(world.owner, t - timedelta(minutes=30))):
        t += timedelta(minutes=7)
    return t


@pytest.fixture(scope="module")
def world_setup(pg_url, sim, conn_module):
    reset_database(conn_module)
    sim.clear_faults()
    sim.cbhours_rate_limit = False  # the client's own 1/s limit is tested in test_cbhours; here: speed
    t0 = _pick_time(sim.world)
    online = [r["username"] for r in sim.world.online_rooms(t0)]
    tracked = [u for u in online if sim.world.in_trophy_db(u)][:12]
    outsiders = [u for u in sim.world.usernames if not sim.world.in_trophy_db(u)][:2]
    saved = {k: os.environ.get(k) for k in ("MHC_WATCHLIST", "MHC_TRACKED_MAX", "MHC_CBHOURS_MAX_PER_MINUTE")}
    os.environ.update(MHC_WATCHLIST=",".join(tracked + outsiders), MHC_TRACKED_MAX="20",
                      MHC_CBHOURS_MAX_PER_MINUTE="6000")
    yield {"t0": t0, "tracked": tracked, "outsiders": outsiders}
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    sim.cbhours_rate_limit = True
    sim.set_time(None)


@pytest.fixture(scope="module")
def conn_module(pg_url):
    from mhc_pipeline import db

    with db.connection(pg_url) as c:
        c.autocommit = True
        yield c


def _defs():
    from mhc_pipeline.definitions import defs

    return defs


def _cycle(sim, t: datetime, as_of: datetime, *, affiliate=True, live=True, events=True, full_refresh=False,
           tests=False):
    """Land the chosen sources as the world is at `t`, then dbt build with `as_of`: models only, as the
    scheduled cycles build them, unless `tests` (then every data test too, and none may fail)."""
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.defs.affiliate import client as aff
    from mhc_pipeline.defs.cbhours import client as cbhours
    from mhc_pipeline.defs.events import client as ev

    sim.set_time(t)
    assets, ops = [mhc_dbt_models], {
        "mhc_dbt_models": {"config": {"as_of": as_of.isoformat(), "full_refresh": full_refresh}}}
    if affiliate:
        assets.append(aff.affiliate_onlinerooms)
        ops["raw__affiliate_onlinerooms"] = {"config": {"fetched_at": t.isoformat()}}
    if live:
        assets.append(cbhours.cbhours_live)
        ops["raw__cbhours_live"] = {"config": {"fetched_at": t.isoformat()}}
    if events:
        assets.append(ev.events)
    models_only = dg.AssetSelection.all() - dg.AssetSelection.checks_for_assets(mhc_dbt_models)  # landing checks stay
    result = dg.materialize(assets, resources=_defs().resources, run_config={"ops": ops}, raise_on_error=False,
                            selection=None if tests else models_only)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    assert bool([c for c in result.get_asset_check_evaluations() if c.asset_key in mhc_dbt_models.keys]) == tests
    errors = [c.check_name for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not errors
    return result


def _state(conn) -> dict[str, dict]:
    with conn.cursor() as cur:
        cur.execute(f"select * from {SCHEMA}.v_person_current_state")
        cols = [d[0] for d in cur.description]
        return {row[cols.index("username")]: dict(zip(cols, row)) for row in cur.fetchall()}


@pytest.fixture(scope="module")
def first_cycle(world_setup, sim, conn_module):
    t0 = world_setup["t0"]
    _cycle(sim, t0, t0, tests=True)
    return _state(conn_module)


def test_fresh_affiliate_wins_live_fields_and_cbhours_wins_followers_and_rank(first_cycle, world_setup, sim):
    t0 = world_setup["t0"]
    truth = {r["username"]: r for r in sim.world.online_rooms(t0)}
    ranks = sim.world.live_ranks(t0)
    state = first_cycle
    assert {u for u, s in state.items() if s["is_online"]} == set(truth)
    for name in world_setup["tracked"]:
        s = state[name]
        assert (s["viewers"], s["viewers_source"]) == (truth[name]["num_users"], "affiliate")
        assert (s["followers"], s["followers_source"]) == (truth[name]["num_followers"], "cbhours")
        assert (s["rank"], s["rank_source"]) == (ranks[name][0], "cbhours")
        assert (s["grank"], s["grank_source"]) == (ranks[name][1], "cbhours")
        assert s["last_cbhours_update"] == t0 and s["last_affiliate_update"] == t0
    untracked = [u for u in truth if u not in world_setup["tracked"]]
    for name in untracked[:10]:
        assert state[name]["followers_source"] == "affiliate" and state[name]["rank"] is None


def test_events_become_interactions_once_and_viewers_become_persons(first_cycle, world_setup, sim, conn_module):
    events = count(conn_module, "select count(*) from raw.events")
    assert events > 0
    assert count(conn_module, f"select count(*) from {SCHEMA}.interactions") == events
    assert count(conn_module, f"select count(distinct id) from {SCHEMA}.interactions") == events
    owner = first_cycle[sim.world.owner]
    assert owner["role"] == "owner"
    assert count(conn_module, f"select count(*) from {SCHEMA}.persons where role in ('viewer', 'both')") > 0
    # event time is the id's millisecond prefix, in UTC
    assert count(conn_module, f"""select count(*) from {SCHEMA}.interactions
                                  where occurred_at <> to_timestamp(split_part(id, '-', 1)::bigint / 1000.0)""") == 0


@pytest.fixture(scope="module")
def stale_cycles(first_cycle, world_setup, sim, conn_module):
    """Two builds after the first cycle: at t1 = t0 + 12 min with CBHours only (Affiliate's crawl is 12 min
    old), then 6 minutes later with nothing new."""
    t1 = world_setup["t0"] + timedelta(minutes=12)  # the Affiliate crawl of t0 is now 12 min old (> 10)
    _cycle(sim, t1, t1, affiliate=False, events=False)
    state = _state(conn_module)
    as_of = t1 + timedelta(minutes=6)
    _cycle(sim, t1, as_of, affiliate=False, live=False, events=False)
    return {"t1": t1, "as_of": as_of, "state": state, "late": _state(conn_module)}


def test_stale_affiliate_loses_live_fields_to_fresh_cbhours(stale_cycles, world_setup, sim):
    t1, state = stale_cycles["t1"], stale_cycles["state"]
    live = sim_cbhours.live_data(sim.world, world_setup["tracked"], t1)
    for name in world_setup["tracked"]:
        s = state[name]
        if live.get(name, {}).get("room_status") == "Online":
            assert s["is_online"] is True
            assert (s["viewers"], s["viewers_source"]) == (live[name]["viewers"], "cbhours")
            assert s["current_show_source"] == "cbhours"
        else:
            assert s["is_online"] is False and s["viewers"] is None  # CBHours Offline never makes anyone online
    untracked = [u for u, s in state.items() if u not in world_setup["tracked"]]
    assert untracked and not any(state[u]["is_online"] for u in untracked)  # nothing fresh: offline
    # six minutes later nothing is fresh at all: everyone offline, rank keeps its last known value
    late = stale_cycles["late"]
    assert not any(s["is_online"] for s in late.values())
    assert all(s["current_show"] is None and s["viewers"] is None for s in late.values())
    ranked = [late[u] for u in world_setup["tracked"] if late[u]["rank"] is not None]
    assert ranked and all(s["rank_source"] == "cbhours" and s["rank_observed_at"] <= t1 for s in ranked)


def test_full_refresh_gives_exactly_the_incremental_state(stale_cycles, sim, conn_module):
    """After the cycles of stale_cycles (a fixture, so the test stands alone), a full refresh at the same
    build time rebuilds every person exactly as the incremental builds left them."""
    query = f"select * from {SCHEMA}.person_current_state order by id"
    with conn_module.cursor() as cur:
        cur.execute(query)
        incremental = cur.fetchall()
    _cycle(sim, stale_cycles["t1"], stale_cycles["as_of"], affiliate=False, live=False, events=False,
           full_refresh=True)
    with conn_module.cursor() as cur:
        cur.execute(query)
        rebuilt = cur.fetchall()
    assert len(rebuilt) == len(incremental) > 0
    assert rebuilt == incremental


def _backfill(sim, days: list[str]):
    defs = _defs()
    job = defs.resolve_job_def("cbhours_activity_job")
    tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    result = job.execute_in_process(tags=tags, raise_on_error=False,
                                    run_config={"ops": {"raw__cbhours_activity": {"config": {}}}})
    assert result.success
    return result


@pytest.fixture(scope="module")
def backfilled(first_cycle, world_setup, sim, conn_module):
    """A 3-day CBHours activity backfill at t0 + 12 min, built (with every data test), then backfilled and
    built again."""
    t = world_setup["t0"] + timedelta(minutes=12)
    sim.set_time(t)
    from mhc_pipeline.defs.cbhours import client as cbhours

    days = [(t.date() - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    tracking = cbhours.TrackingResource(watchlist=os.environ["MHC_WATCHLIST"], owner=sim.world.owner,
                                        max_models=int(os.environ["MHC_TRACKED_MAX"]))
    conn_module.autocommit = False
    tracked = cbhours.tracked_models(conn_module, tracking)  # watch list, owner, the room's visitors
    conn_module.autocommit = True
    outsiders = [u for u in tracked if not sim.world.in_trophy_db(u)]
    result = _backfill(sim, days)
    meta = {k: v.value for e in result.get_asset_materialization_events()
            for k, v in e.event_specific_data.materialization.metadata.items()}
    _cycle(sim, t, t + timedelta(minutes=18), affiliate=False, live=False, events=False, tests=True)
    landed = count(conn_module, f"select count(*) from {SCHEMA}.cbhours_activity")
    out = {"t": t, "days": days, "tracked": tracked, "outsiders": outsiders, "meta": meta, "landed": landed,
           "viewers_zero": count(conn_module, f"select count(*) from {SCHEMA}.cbhours_activity where viewers = 0"),
           "viewers_null": count(conn_module, f"select count(*) from {SCHEMA}.cbhours_activity where viewers is null"),
           "not_in_trophy_db": count(conn_module,
                                     f"select count(*) from {SCHEMA}.cbhours_trophy_status where not in_trophy_db")}
    # again: a new batch in raw, nothing new in the history
    _backfill(sim, days)
    _cycle(sim, t, t + timedelta(minutes=18), affiliate=False, live=False, events=False)
    out["landed_again"] = count(conn_module, f"select count(*) from {SCHEMA}.cbhours_activity")
    return out


def test_a_3_day_activity_backfill_lands_every_segment_once_and_again_adds_nothing(backfilled, world_setup, sim):
    b = backfilled
    assert set(world_setup["outsiders"]) <= set(b["outsiders"])
    assert b["meta"]["not_in_trophy_db"] == len(b["outsiders"]) and b["meta"]["models"] == len(b["tracked"])
    expected = 0
    start, end = datetime.fromisoformat(b["days"][0]).date(), datetime.fromisoformat(b["days"][-1]).date()
    for name in [u for u in b["tracked"] if u not in b["outsiders"]]:
        answer = sim_cbhours.activity(sim.world, name, start, end, 0, b["t"], True)
        expected += sum(len(v) for v in (answer.get("details") or {}).values())
    assert b["landed"] == expected > 0
    assert b["viewers_zero"] > 0  # "0" is 0
    assert b["viewers_null"] == 0
    assert b["not_in_trophy_db"] == len(b["outsiders"])
    assert b["landed_again"] == b["landed"]


def test_no_token_anywhere_after_the_whole_pipeline(first_cycle, conn_module):
    token = os.environ[TOKEN_SETTING]
    hits = []
    with conn_module.cursor() as cur:
        cur.execute("""select table_schema, table_name, column_name from information_schema.columns
                       where table_schema in ('raw', 'mhc', 'staging', 'intermediate')
                         and data_type in ('text', 'jsonb', 'json', 'character varying', 'ARRAY')""")
        for schema, table, column in cur.fetchall():
            cur.execute(f'select count(*) from {schema}."{table}" where "{column}"::text like %s', (f"%{token}%",))
            if cur.fetchone()[0]:
                hits.append(f"{schema}.{table}.{column}")
    assert not hits


def test_broadcast_sessions_and_profiles_come_from_the_history(backfilled, world_setup, conn_module):
    """After the 3-day activity backfill: closed CBHours sessions, written once, consistent; one profile
    per person, each value with the source that saw it last."""
    sessions = _rows(conn_module, f"""select source, started_at, ended_at, duration_minutes, peak_viewers,
                                             avg_viewers, observations from {SCHEMA}.broadcast_sessions""")
    assert any(s["source"] == "cbhours_activity" for s in sessions)
    for s in sessions:
        assert s["started_at"] <= s["ended_at"] and s["observations"] >= 1
        assert s["peak_viewers"] is None or s["peak_viewers"] >= s["avg_viewers"]
    assert count(conn_module, f"select count(*) from {SCHEMA}.profiles") == count(
        conn_module, f"select count(*) from {SCHEMA}.persons")
    # a tracked model's profile has its gender and followers, each from a source that reported it
    for name in world_setup["tracked"][:3]:
        profile = _rows(conn_module, f"select * from {SCHEMA}.profiles where username = %s", name)[0]
        assert profile["gender"] and profile["gender_source"] in ("affiliate", "cbhours")
        assert profile["followers"] is not None and profile["followers_observed_at"] is not None


def test_source_freshness_and_coverage_say_how_each_source_is_doing(stale_cycles, world_setup, sim, conn_module):
    """A crawl fetched now, a build at now: Affiliate is fresh and counted in the last hour, the CBHours
    live data (simulated days ago) is not; both marts reach Dagster as metadata."""
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.defs.affiliate import client as aff

    sim.set_time(None)
    result = dg.materialize([aff.affiliate_onlinerooms, mhc_dbt_models], resources=_defs().resources,
                            raise_on_error=False,
                            selection=dg.AssetSelection.all() - dg.AssetSelection.checks_for_assets(mhc_dbt_models))
    assert result.success
    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    landed = meta["raw/affiliate_onlinerooms"]["rows_landed"].value
    fresh = {r["source"]: r for r in _rows(conn_module, f"select * from {SCHEMA}.source_freshness")}
    assert {"affiliate", "cbhours_live", "cbhours_activity", "events"} <= set(fresh)
    assert fresh["affiliate"]["freshness_status"] == "pass" and fresh["affiliate"]["minutes_since_fetch"] < 5
    assert fresh["affiliate"]["rows_landed_last_hour"] >= landed > 0
    assert fresh["affiliate"]["rows_quarantined_last_hour"] == 0 and fresh["affiliate"]["batches_last_hour"] >= 1
    assert fresh["cbhours_live"]["freshness_status"] == "error"  # its newest fetch is the simulated t0 + 12 min
    assert fresh["cbhours_live"]["newest_fetched_at"] == world_setup["t0"] + timedelta(minutes=12)

    cover = {r["source"]: r for r in _rows(conn_module, f"select * from {SCHEMA}.source_coverage")}
    assert cover["affiliate"]["persons_covered"] == count(
        conn_module, f"select count(distinct person_id) from {SCHEMA}.affiliate_api_snapshots")
    assert cover["cbhours_live"]["persons_covered"] == count(
        conn_module, f"select count(distinct person_id) from {SCHEMA}.cbhours_live_stats")
    shares = {r["merge_source"]: r["winning_share"] for r in cover.values() if r["merge_source"]}
    assert abs(float(sum(shares.values())) - 1) < 0.001 and shares["affiliate"] > 0
    assert cover["events"]["winning_values"] == 0  # events give no merged field

    assert meta["source_freshness"]["sources_not_fresh"].value >= 1
    assert "| source |" in meta["source_freshness"]["source_freshness"].value
    assert meta["source_coverage"]["persons_covered_affiliate"].value == cover["affiliate"]["persons_covered"]
    merged = meta["person_current_state"]
    assert merged["share_affiliate"].value == pytest.approx(float(shares["affiliate"]), abs=0.001)
    assert "| username |" in merged["preview_top_online"].value and merged["online"].value > 0


def _rows(conn, sql: str, *params) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def _merge_everyone_again(as_of: datetime):
    """Build person_current_state alone, merging every person again in place (config recompute_merge)."""
    from mhc_pipeline.dbt import MERGED_KEY, mhc_dbt_models

    config = {"as_of": as_of.isoformat(), "recompute_merge": True}
    result = dg.materialize([mhc_dbt_models], resources=_defs().resources, selection=[MERGED_KEY],
                            run_config={"ops": {"mhc_dbt_models": {"config": config}}}, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    return result


def _rewritten(result) -> int:
    """How many persons a build's person_current_state merged again (its metadata persons_merged)."""
    for m in result.asset_materializations_for_node("mhc_dbt_models"):
        if m.asset_key.path[-1] == "person_current_state":
            return m.metadata["persons_merged"].value
    raise AssertionError("person_current_state was not materialized")


def test_each_build_rewrites_only_the_affected_persons_and_equals_merging_everyone(first_cycle, sim, conn_module):
    """A live build merges again only the persons whose row can have changed (macros/merge_scope.sql): new
    observations, merge windows crossed, observations that became candidates. After each build of a
    sequence (CBHours landing alone; nothing landing while the 5-, 10- and 60-minute windows close; the
    Affiliate crawl coming back) merging every person again in place gives exactly the same rows. Last in
    the module: its builds are the latest in time."""
    query = f"select * from {SCHEMA}.person_current_state order by id"
    # after the module's other builds, some built as of now (the backfill): an hour from now, so that no
    # build goes back in time
    t1 = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    steps = [  # (landing time, build time, land Affiliate, land CBHours)
        (t1, t1, True, True),
        (t1 + timedelta(minutes=7), t1 + timedelta(minutes=7), False, True),
        (t1 + timedelta(minutes=7), t1 + timedelta(minutes=13), False, False),  # CBHours' 5 min pass
        (t1 + timedelta(minutes=14), t1 + timedelta(minutes=14), True, True),
        (t1 + timedelta(minutes=14), t1 + timedelta(minutes=21), False, False),  # CBHours' 5 min, not 10
        (t1 + timedelta(minutes=14), t1 + timedelta(minutes=25), False, False),  # Affiliate's 10 min pass
        (t1 + timedelta(minutes=14), t1 + timedelta(minutes=80), False, False),  # followers' 60 min pass
    ]
    rewritten = []
    for t, as_of, affiliate, live in steps:
        result = _cycle(sim, t, as_of, affiliate=affiliate, live=live, events=False)
        persons = count(conn_module, f"select count(*) from {SCHEMA}.persons")
        rewritten.append((_rewritten(result), persons))
        with conn_module.cursor() as cur:
            cur.execute(query)
            incremental = cur.fetchall()
        again = _merge_everyone_again(as_of)
        assert _rewritten(again) == persons
        with conn_module.cursor() as cur:
            cur.execute(query)
            assert cur.fetchall() == incremental, f"the build as of {as_of} differs from merging everyone"
            cur.execute(f"select min(state_as_of), max(state_as_of) from {SCHEMA}.v_person_current_state")
            assert cur.fetchone() == (as_of, as_of)  # the state's time is the build's, on every row
    # each live build merged only some persons again; those where only windows closed merged someone
    assert all(n < persons for n, persons in rewritten[1:]), rewritten
    assert rewritten[2][0] > 0 and rewritten[5][0] > 0, rewritten
