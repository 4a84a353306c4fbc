"""A run whose process dies never blocks the builds after it (issue: "a dead dbt run blocks every later
build, forever and silently").

The reproduction of the issue, for real: `mhc build` in its own process group, SIGKILLed while dbt runs
(the run stays STARTED and keeps the one slot of the `dbt` pool), then:
- a build that waits for the pool says what it waits for, and stops on SIGTERM;
- the next `mhc build` marks the dead run failed, frees its slot and completes;
- under the daemon, the `dead_run_watchdog` sensor does the same.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mhc_pipeline import runs, runtime

MHC = str(Path(sys.executable).parent / "mhc")
BUILD_TIMEOUT = 900


@pytest.fixture(scope="module")
def instance(pg_url, sim):
    """The Dagster instance `mhc build` uses on the session database (its DAGSTER_HOME)."""
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "MHC_DAGSTER_PG_URL")}
    runtime.dagster_home()
    with dg.DagsterInstance.get() as inst:
        yield inst
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _env() -> dict:
    env = dict(os.environ)
    env.pop("DAGSTER_HOME", None)  # `mhc build` derives it from MHC_DATA_DIR, as the test did
    return env


def _start_build(log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    return subprocess.Popen([MHC, "build"], env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process ended ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}: {log.read_text()[-2000:] if log else ''}")


def _holder(instance) -> str | None:
    return next((r for r, _ in runs.pool_holders(instance, "dbt")), None)


def test_a_waiting_build_says_for_what_stops_on_sigterm_and_a_killed_build_blocks_nothing(instance, tmp_path):
    """The issue's reproduction: a build SIGKILLed (its whole process group) while it holds the dbt pool
    stays STARTED and keeps the slot; the next `mhc build` marks it failed, frees the slot and completes.
    Before that, a second build arriving while the first one holds the pool says what it waits for and
    stops within seconds of SIGTERM (it waited forever, deaf to SIGTERM)."""
    holder_log, waiter_log = tmp_path / "holder.log", tmp_path / "waiter.log"
    holder = _start_build(holder_log)
    try:
        held = _wait(lambda: _holder(instance), 300, "the first build to claim the dbt pool", holder, holder_log)
        waiter = _start_build(waiter_log)
        try:
            _wait(lambda: "waiting for the dbt pool" in waiter_log.read_text(), 120, "the waiting line", waiter,
                  waiter_log)
            line = next(x for x in waiter_log.read_text().splitlines() if "waiting for the dbt pool" in x)
            assert f"held by run {held[:8]} (dbt_build, STARTED" in line, line

            def waiting_step():
                return [p.run_id for p in instance.event_log_storage.get_concurrency_info("dbt").pending_steps
                        if p.run_id != held]

            _wait(waiting_step, 120, "the waiting build's step to queue for the pool", waiter, waiter_log)
            time.sleep(2)  # well inside the wait
            waiter.send_signal(signal.SIGTERM)
            started = time.monotonic()
            waiter.wait(20)
            assert time.monotonic() - started < 10, "SIGTERM took too long to stop a waiting build"
            assert waiter.returncode != 0
            assert "interrupted" in waiter_log.read_text()
        finally:
            if waiter.poll() is None:
                os.killpg(waiter.pid, signal.SIGKILL)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # dbt is running: it is in the same process group
        holder.wait(30)
    assert instance.get_run_by_id(held).status == dg.DagsterRunStatus.STARTED  # what the issue saw
    assert _holder(instance) == held

    result = subprocess.run([MHC, "build"], env=_env(), capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"run {held[:8]} (dbt_build, process" in result.stdout
    assert "was left in progress by a process that died: marked failed, its slots freed" in result.stdout
    assert instance.get_run_by_id(held).status == dg.DagsterRunStatus.FAILURE
    assert runs.pool_holders(instance, "dbt") == []
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=runs.IN_PROGRESS))


def test_the_watchdog_sensor_fails_a_run_whose_process_died_and_frees_its_slot(instance):
    """Under `mhc dev` nobody runs `mhc build`: the dead_run_watchdog sensor (every minute) does the same
    for a run whose process is gone (here a run record as a killed run worker leaves it)."""
    import socket

    from dagster._core.events import EngineEventData

    from mhc_pipeline.definitions import defs

    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer exists
    run = instance.create_run_for_job(defs.resolve_job_def("dbt_build"), status=dg.DagsterRunStatus.STARTED,
                                      tags={runs.HOST_TAG: socket.gethostname()})
    instance.report_engine_event(f"Started process for run (pid: {gone.pid}).", run,
                                 EngineEventData.in_process(gone.pid))
    if "dbt" not in instance.event_log_storage.get_concurrency_keys():  # no build ran yet in this session
        instance.event_log_storage.initialize_concurrency_limit_to_default("dbt")  # one slot, as a build finds it
    instance.event_log_storage.claim_concurrency_slot("dbt", run.run_id, "mhc_dbt_models")
    assert _holder(instance) == run.run_id
    alive = instance.create_run_for_job(defs.resolve_job_def("dbt_build"), status=dg.DagsterRunStatus.STARTED,
                                        tags={runs.HOST_TAG: socket.gethostname()})
    instance.report_engine_event(f"Executing steps in process (pid: {os.getpid()}).", alive,
                                 EngineEventData.in_process(os.getpid()))
    try:
        with dg.build_sensor_context(instance=instance) as context:
            outcome = runs.dead_run_watchdog(context)
        assert isinstance(outcome, dg.SkipReason) and f"run {run.run_id[:8]}" in outcome.skip_message
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert runs.pool_holders(instance, "dbt") == []
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED  # a live one stays
    finally:
        instance.report_run_failed(instance.get_run_by_id(alive.run_id), "test run")
