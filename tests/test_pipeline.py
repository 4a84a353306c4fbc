"""Landing + dbt through Dagster, for real: definitions validate, two identical runs, the merged state
equals what the simulator's world says, stale data goes offline."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mhc_pipeline import settings
from tests.conftest import count, reset_database

T1 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
SCHEMA = "mhc"


def _materialize(fetched_at: datetime, as_of: datetime, full_refresh: bool = False, tests: bool = True):
    """One Affiliate crawl and the dbt build after it; `tests=False`: the models only, as the scheduled
    cycles build them (the data tests are the subject of other tests)."""
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs
    from mhc_pipeline.defs.affiliate.client import affiliate_onlinerooms

    run_config = {
        "ops": {
            "raw__affiliate_onlinerooms": {"config": {"fetched_at": fetched_at.isoformat()}},
            "mhc_dbt_models": {"config": {"as_of": as_of.isoformat(), "full_refresh": full_refresh}},
        }
    }
    return dg.materialize(
        [affiliate_onlinerooms, mhc_dbt_models],
        resources=defs.resources,
        run_config=run_config,
        raise_on_error=False,
        selection=None if tests else dg.AssetSelection.all().without_checks(),
    )


def _query(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def _counts(conn) -> dict[str, int]:
    tables = ["affiliate_api_snapshots", "persons", "person_current_state"]
    out = {t: count(conn, f"select count(*) from {SCHEMA}.{t}") for t in tables}
    out["raw"] = count(conn, "select count(*) from raw.affiliate_onlinerooms")
    out["online"] = count(conn, f"select count(*) from {SCHEMA}.person_current_state where is_online")
    return out


@pytest.fixture(scope="module")
def first_runs(pg_url, sim, conn_module):
    reset_database(conn_module)
    sim.clear_faults()
    sim.set_time(T1)
    first = _materialize(T1, T1)
    after_first = _counts(conn_module) if first.success else None
    second = _materialize(T1, T1, tests=False)  # the same crawl again: the same rows (the tests ran once)
    after_second = _counts(conn_module) if second.success else None
    yield first, after_first, second, after_second
    sim.set_time(None)


@pytest.fixture(scope="module")
def conn_module(pg_url):
    from mhc_pipeline import db

    with db.connection(pg_url) as c:
        c.autocommit = True
        yield c


def test_definitions_validate():
    out = subprocess.run(
        [str(settings.PROJECT_ROOT / ".venv/bin/dagster") if (settings.PROJECT_ROOT / ".venv/bin/dagster").exists()
         else "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=settings.PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def test_two_runs_in_a_row_succeed_with_the_same_row_counts(first_runs):
    first, after_first, second, after_second = first_runs
    assert first.success and second.success
    assert after_first == after_second
    assert after_first["affiliate_api_snapshots"] == after_first["raw"] > 0
    assert after_first["person_current_state"] == after_first["persons"]


def test_dbt_builds_keep_their_artifacts_under_the_data_folder_and_only_the_last_few(first_runs, monkeypatch):
    """Each build writes ~24 MB of dbt artifacts (manifest, run results, log): one folder per build under
    MHC_DATA_DIR/dbt_runs, pruned to MHC_DBT_KEEP_RUNS after each build, none in the source tree."""
    from mhc_pipeline.dbt import prune_run_targets

    runs = settings.data_dir() / "dbt_runs"
    folders = sorted(p.name for p in runs.iterdir())
    assert 2 <= len(folders) <= 5, folders  # default keep: 5 (earlier test modules built too)
    for result in (first_runs[0], first_runs[2]):  # this module's two builds are the newest
        assert any(f.split("-")[1] == result.run_id[:8] for f in folders[-2:]), (result.run_id, folders)
    assert all((runs / f / "run_results.json").exists() for f in folders)
    assert not list((settings.DBT_PROJECT_DIR / "target").glob("mhc_dbt_models-*"))
    monkeypatch.setenv("MHC_DBT_KEEP_RUNS", "1")
    third = _materialize(T1, T1, tests=False)
    assert third.success
    assert [f.name.split("-")[1] for f in runs.iterdir()] == [third.run_id[:8]]
    assert prune_run_targets(keep=1) == []


def test_every_dbt_check_passed(first_runs):
    first = first_runs[0]
    checks = first.get_asset_check_evaluations()
    assert len(checks) >= 10
    failed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    warned = [c.check_name for c in checks if not c.passed]
    assert not warned  # a clean world: not even a warning


def test_landing_metadata_tells_the_operator_what_happened(first_runs):
    first, _, second, _ = first_runs
    meta = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in first.get_asset_materialization_events()
    }
    landing = meta["raw/affiliate_onlinerooms"]
    assert landing["rows_landed"].value > 0 and landing["rows_quarantined"].value == 0
    assert landing["pages"].value >= 1 and "retries" in landing
    again = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in second.get_asset_materialization_events()
    }["raw/affiliate_onlinerooms"]
    assert again["already_landed"].value is True and again["rows_landed"].value == 0


def test_merged_state_is_what_the_world_says(first_runs, sim, conn_module):
    truth = {r["username"]: r for r in sim.world.online_rooms(T1)}
    with conn_module.cursor() as cur:
        cur.execute(
            f"""select id, username, is_online, viewers, viewers_source, followers, followers_source,
                       current_show, display_name, tags, last_affiliate_update
                from {SCHEMA}.v_person_current_state"""
        )
        rows = {r[1]: r for r in cur.fetchall()}
    online = {u for u, r in rows.items() if r[2]}
    assert online == set(truth)
    for name, room in truth.items():
        pid, _, _, viewers, vsrc, followers, fsrc, show, display, tags, last_aff = rows[name]
        assert uuid.UUID(str(pid)) == uuid.uuid3(NS, f"chaturbate:{name}")
        assert (viewers, vsrc) == (room["num_users"], "affiliate")
        assert (followers, fsrc) == (room["num_followers"], "affiliate")
        assert show == room["current_show"]
        assert display == (room["display_name"] or None)
        assert list(tags or []) == room["tags"]
        assert last_aff == T1


def test_a_new_crawl_adds_one_snapshot_and_stale_data_goes_offline(first_runs, sim, conn_module):
    _, before, _, _ = first_runs
    t2 = T1 + timedelta(minutes=5)
    sim.set_time(t2)
    truth2 = {r["username"] for r in sim.world.online_rooms(t2)}
    result = _materialize(t2, t2, tests=False)
    assert result.success
    after = _counts(conn_module)
    assert after["affiliate_api_snapshots"] == before["affiliate_api_snapshots"] + len(truth2)
    # the Affiliate live window is 10 minutes (seed merge_rules): at t2 the T1 crawl is still fresh
    truth1 = {r["username"] for r in sim.world.online_rooms(T1)}
    online_now = lambda: {r[0] for r in _query(  # noqa: E731
        conn_module, f"select username from {SCHEMA}.v_person_current_state where is_online")}
    assert online_now() == truth1 | truth2
    # 6 minutes after t2 (11 after T1) only the t2 crawl is fresh: exactly the rooms online at t2
    assert _materialize(t2, t2 + timedelta(minutes=6), tests=False).success
    assert online_now() == truth2
    # 15 minutes later with no new crawl: the Affiliate data is stale, nobody is online
    late = _materialize(t2, t2 + timedelta(minutes=15), tests=False)
    assert late.success
    assert count(conn_module, f"select count(*) from {SCHEMA}.person_current_state where is_online") == 0
    assert count(conn_module, f"select count(*) from {SCHEMA}.person_current_state "
                              "where viewers is not null or current_show is not null") == 0
    # but the profile fields keep their last known value, with its source and age
    assert count(conn_module, f"select count(*) from {SCHEMA}.person_current_state "
                              "where followers_source = 'affiliate' and followers is not null") > 0


def test_the_merged_state_records_a_preview_for_the_operator(first_runs):
    first = first_runs[0]
    meta = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
            for e in first.get_asset_materialization_events()}["person_current_state"]
    assert meta["online"].value > 0
    assert meta["preview_top_online"].value.startswith("| username | current_show | viewers |")
    assert meta["share_affiliate"].value == 1.0  # Affiliate is the only source landed here


def test_the_dbt_models_follow_new_landed_data_without_a_click():
    """The landing schedules run only their landing asset; the dbt_follows_landing sensor (RUNNING by
    default) requests the models downstream of each new landing once, the merged state among them, and
    nothing again until the next landing (Dagster's own evaluator over our definitions)."""
    from mhc_pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("dbt_follows_landing")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING and sensor.minimum_interval_seconds <= 60
    for job in ("affiliate_cycle", "cbhours_live_cycle", "events_cycle"):
        assert len(defs.resolve_job_def(job).asset_layer.selected_asset_keys) == 1
    instance = dg.DagsterInstance.ephemeral()
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if not graph.get(key).is_partitioned:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor

    requested = functools.partial(_requested, defs, instance)

    _, cursor = requested(cursor)
    for landing, history in [("raw/affiliate_onlinerooms", "affiliate_api_snapshots"),
                             ("raw/cbhours_live", "cbhours_live_stats"), ("raw/events", "interactions")]:
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey.from_user_string(landing)))
        keys, cursor = requested(cursor)
        # the views between the landing table and the models are seen through, never rebuilt (their SQL
        # did not change); the every_5_minutes marts wait for the cycle's 5-minute tick
        assert {history, "persons", "person_current_state"} <= keys, landing
        assert not keys & {"v_person_current_state", "staging/stg_cbhours__live", "profiles",
                           "source_freshness"}, landing
        again, cursor = requested(cursor)
        assert not again


def test_the_cycle_lands_what_is_due_and_rebuilds_what_it_landed_then_the_sensor_requests_nothing():
    """One run a minute (cycle_every_minute): the sources whose newest landing is older than their cadence,
    the models downstream of them, and every data test with the 5-minute sources; a source that missed
    its tick (never landed, failed, a skipped tick) is due at the next one. After such a run the sensor
    requests nothing; when a run's landing succeeded but its dbt step was skipped (another landing of the
    run failed), the sensor rebuilds what that landing changed."""
    from mhc_pipeline.definitions import DBT_CHECK_KEYS, DOWNSTREAM_MODELS, EVERY_5_MINUTES_MODELS, VIEW_MODELS, defs

    graph = defs.resolve_asset_graph()
    for key, models in DOWNSTREAM_MODELS.items():
        assert models == {k for k in graph.materializable_asset_keys if key in _ancestors(graph, k)}, key
    assert len(DBT_CHECK_KEYS) > 100
    assert {"staging/stg_cbhours__live", "intermediate/int_cbhours__observations", "v_person_current_state"} <= {
        k.to_user_string() for k in VIEW_MODELS}
    assert {k.to_user_string() for k in EVERY_5_MINUTES_MODELS} == {"profiles", "source_freshness", "source_coverage"}
    schedule = defs.resolve_schedule_def("cycle_every_minute")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:  # a schedule's context needs an instance it can refer to
        _cycle_ticks(defs, graph, schedule, instance)


def _cycle_ticks(defs, graph, schedule, instance):
    from mhc_pipeline.definitions import (
        CADENCE_SECONDS,
        CHECKS_TAG,
        DBT_CHECK_KEYS,
        DOWNSTREAM_MODELS,
        EVERY_5_MINUTES_MODELS,
        VIEW_MODELS,
        cycle_every_minute,
    )

    t0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

    def tick(at: datetime):
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                       repository_def=defs.get_repository_def()) as context:
            return schedule.evaluate_tick(context).run_requests[0]

    def land(request):
        # the run's materializations, in the order the run writes them (landings, then the models)
        for key in graph.toposorted_asset_keys:
            if key in request.asset_selection:
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    key, partition=request.partition_key if graph.get(key).is_partitioned else None))
        if CHECKS_TAG in request.tags:  # the run the schedule launches, as the next tick finds it
            instance.add_run(dg.DagsterRun(job_name=cycle_every_minute.name, status=dg.DagsterRunStatus.SUCCESS,
                                           tags=request.tags))

    first = tick(t0)  # nothing landed yet: everything is due, and the data tests
    every_table = set().union(*DOWNSTREAM_MODELS.values()) - VIEW_MODELS
    assert set(first.asset_selection) == set(CADENCE_SECONDS) | every_table
    # the landings' own checks, whenever they land
    stats_check = dg.AssetCheckKey(dg.AssetKey(["raw", "stats_api"]), "stats_api_answering")
    live_check = dg.AssetCheckKey(dg.AssetKey(["raw", "cbhours_live"]), "cbhours_live_complete")
    assert set(first.asset_check_keys) == {*DBT_CHECK_KEYS, stats_check, live_check}
    assert first.partition_key == "2026-12-07"
    assert first.run_config == {"ops": {"raw__cbhours_activity": {"config": {"online_only": True}}}}
    land(first)
    # report_runless_asset_event and add_run stamp the wall clock; the schedule ticks on the minute, and a
    # landing counts from the minute it happened in
    landed = instance.get_latest_materialization_event(dg.AssetKey(["raw", "cbhours_live"])).timestamp
    real = datetime.fromtimestamp(landed // 60 * 60, UTC)
    due, tested = {}, {}
    for minutes in (1, 2, 3, 4, 5, 6):
        request = tick(real + timedelta(minutes=minutes))
        due[minutes] = {k.path[-1] for k in request.asset_selection if k in CADENCE_SECONDS}
        tested[minutes] = bool(set(request.asset_check_keys) & set(DBT_CHECK_KEYS))
        assert (request.partition_key is not None) == ("cbhours_activity" in due[minutes]), minutes
        marts = set(request.asset_selection) & EVERY_5_MINUTES_MODELS
        assert marts == (EVERY_5_MINUTES_MODELS if "affiliate_onlinerooms" in due[minutes] else set()), minutes
        assert not set(request.asset_selection) & VIEW_MODELS
    assert due[1] == due[2] == {"cbhours_live", "events"}
    assert due[3] == due[4] == {"cbhours_live", "events", "cbhours_activity"}  # nothing landed since
    assert due[5] == due[6] == {k.path[-1] for k in CADENCE_SECONDS}
    assert not any(tested.values())  # the data tests run every 15 minutes
    assert set(tick(real + timedelta(minutes=15)).asset_check_keys) >= set(DBT_CHECK_KEYS)
    minute = tick(real + timedelta(minutes=1))
    assert set(minute.asset_selection) == {*DOWNSTREAM_MODELS[dg.AssetKey(["raw", "cbhours_live"])],
                                           *DOWNSTREAM_MODELS[dg.AssetKey(["raw", "events"])],
                                           dg.AssetKey(["raw", "cbhours_live"]), dg.AssetKey(["raw", "events"])
                                           } - VIEW_MODELS - EVERY_5_MINUTES_MODELS
    assert list(minute.asset_check_keys) == [live_check] and minute.partition_key is None and not minute.run_config
    # a throttled Stats API (its asset observes `backoff_until` instead of landing) is not due until then: a
    # landing that yields nothing would make Dagster skip the cycle's dbt step for the whole back-off
    stats_key = dg.AssetKey(["raw", "stats_api"])
    until = real + timedelta(minutes=40)
    instance.report_runless_asset_event(dg.AssetObservation(stats_key, metadata={"backoff_until": until.isoformat()}))
    assert stats_key not in tick(real + timedelta(minutes=12)).asset_selection
    assert stats_key in tick(until + timedelta(seconds=1)).asset_selection
    # while a cycle is queued or going, the tick is skipped (the next one lands what is due)
    instance.add_run(dg.DagsterRun(job_name=cycle_every_minute.name, run_id="a" * 36,
                                   status=dg.DagsterRunStatus.STARTED))
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=real,
                                   repository_def=defs.get_repository_def()) as context:
        assert schedule.evaluate_tick(context).skip_message.startswith("the previous cycle is still")
    instance.delete_run("a" * 36)

    # the sensor after a cycle: nothing; after a landing whose run skipped its dbt step: that landing's models
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor

    requested = functools.partial(_requested, defs, instance)

    _, cursor = requested(cursor)
    land(minute)
    keys, cursor = requested(cursor)
    assert not keys, keys
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["raw", "cbhours_live"])))
    keys, cursor = requested(cursor)
    assert {"cbhours_live_stats", "person_current_state"} <= keys and "interactions" not in keys, keys


def _requested(defs, instance, cursor) -> tuple[set[str], object]:
    """The assets Dagster's own evaluator of the automation conditions requests now (checks left out)."""
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    return ({r.key.to_user_string() for r in result.results if r.true_subset.size and isinstance(r.key, dg.AssetKey)},
            result.cursor)


def _ancestors(graph, key) -> set:
    seen, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_a_cycle_with_every_source_due_lands_them_builds_downstream_and_runs_every_data_test(first_runs):
    """The cycle's run as the schedule asks for it when everything is due (today's activity partition, the
    data tests with the 5-minute sources), executed for real against the simulator."""
    from mhc_pipeline.definitions import CADENCE_SECONDS, DBT_CHECK_KEYS, cycle_request, defs

    request = cycle_request(list(CADENCE_SECONDS), datetime.now(UTC), checks=True)
    job = defs.resolve_job_def("cycle_every_minute").get_subset(
        asset_selection=set(request.asset_selection), asset_check_selection=set(request.asset_check_keys))
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), run_config=request.run_config,
                                    partition_key=request.partition_key, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(request.asset_selection)
    checks = result.get_asset_check_evaluations()
    assert {c.asset_check_key for c in checks} == set(request.asset_check_keys) >= set(DBT_CHECK_KEYS)
    assert not [c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]


def _views(conn) -> list[str]:
    return [r[0] for r in _query(conn, """select table_schema || '.' || table_name from information_schema.views
                                         where table_schema in ('staging', 'intermediate', 'mhc') order by 1""")]


def test_the_product_view_survives_builds_and_one_person_is_an_index_probe(first_runs, pg_url, conn_module):
    """A reader polling v_person_current_state every 50 ms through dbt builds of the merged state never
    gets an error (the table is updated in place, not dropped and re-created with CASCADE)."""
    import threading

    from mhc_pipeline import db

    errors, reads, stop = [], [0], threading.Event()

    def reader():
        with db.connection(pg_url) as c:
            c.autocommit = True
            while not stop.is_set():
                try:
                    with c.cursor() as cur:
                        cur.execute(f"select count(*) from {SCHEMA}.v_person_current_state where is_online")
                        cur.fetchone()
                    reads[0] += 1
                except Exception as exc:  # noqa: BLE001 - any error is the failure
                    errors.append(repr(exc))
                stop.wait(0.05)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        db.export_libpq_env(pg_url)
        project = str(settings.DBT_PROJECT_DIR)
        views = _views(conn_module)
        # the merged state alone, and an upstream view alone, as the sensor's partial builds do: no view
        # built on them may disappear (dbt's default view swap drops dependents with CASCADE)
        for selection in ("person_current_state+", "int_affiliate__session_observations", "stg_affiliate__rooms"):
            out = subprocess.run(
                [str(settings.PROJECT_ROOT / ".venv/bin/dbt"), "run", "--select", selection,
                 "--project-dir", project, "--profiles-dir", project, "--target-path",
                 str(settings.data_dir() / "dbt_runs" / "test-view"), "--log-path", str(settings.data_dir())],
                capture_output=True, text=True, timeout=300, env=os.environ.copy())
            assert out.returncode == 0, out.stdout[-2000:]
    finally:
        stop.set()
        thread.join(10)
    assert reads[0] > 10 and not errors, errors[:3]
    assert _views(conn_module) == views
    with conn_module.cursor() as cur:  # a table this small is scanned anyway: show the index can serve it
        cur.execute("set enable_seqscan = off")
        cur.execute(f"explain select * from {SCHEMA}.v_person_current_state where username = 'someone'")
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("reset enable_seqscan")
    assert "Index Cond: (username" in plan, plan


def test_builds_read_and_test_only_what_the_latest_landings_added(first_runs):
    """Literal watermarks (not sub-queries) in the incremental models and in the data tests' `where`, so
    the landed_at indexes are used whatever the length of history; unit tests are not in the build."""
    # the newest build of the Affiliate history (other tests build other parts of the project since)
    runs = [r for r in sorted((settings.data_dir() / "dbt_runs").glob("2*"))
            if (r / "compiled/mhc/models/history/affiliate/affiliate_api_snapshots.sql").exists()
            and (r / "compiled/mhc/models/history/affiliate/_affiliate__models.yml").is_dir()]
    assert runs, "no kept dbt build compiled the Affiliate history and its tests"
    compiled = runs[-1] / "compiled" / "mhc" / "models"
    snapshots = (compiled / "history" / "affiliate" / "affiliate_api_snapshots.sql").read_text()
    assert "landed_at > to_timestamp(" in snapshots and "select coalesce(max(" not in snapshots
    test_sql = next(compiled.glob(
        "history/affiliate/_affiliate__models.yml/not_null_affiliate_api_snapshots_person_id.sql")).read_text()
    assert "where landed_at > to_timestamp(" in test_sql
    results = (runs[-1] / "run_results.json").read_text()
    assert '"unit_test.' not in results


def test_the_history_wide_checks_run_on_their_own_daily_schedule(first_runs):
    from mhc_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("dbt_checks_history_daily")
    assert schedule.job_name == "dbt_checks_history" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    result = defs.resolve_job_def("dbt_checks_history").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 50 and not result.get_asset_materialization_events()  # tests only, no model rebuilt
    runs = sorted((settings.data_dir() / "dbt_runs").glob("2*"))
    test_sql = next((runs[-1] / "compiled").rglob("not_null_affiliate_api_snapshots_person_id.sql")).read_text()
    assert "'-infinity'::timestamptz" in test_sql


def test_importing_the_code_location_never_parses_dbt_in_a_run_worker():
    """Under `dagster dev` every run worker imports the definitions with DAGSTER_IS_DEV_CLI set: with a
    current manifest, that import must not run `dbt parse` (it did, in each worker, behind one lock)."""
    from mhc_pipeline.dbt import DBT_PROJECT

    manifest = DBT_PROJECT.manifest_path
    before = manifest.stat().st_mtime_ns
    out = subprocess.run([sys.executable, "-c", "import mhc_pipeline.definitions"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "DAGSTER_IS_DEV_CLI": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert manifest.stat().st_mtime_ns == before
