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

from mhc_pipeline import cli, runs

MHC = str(Path(sys.executable).parent / "mhc")
BUILD_TIMEOUT = 900


@pytest.fixture(scope="module")
def instance(pg_url, sim):
    """The Dagster instance `mhc build` uses on the session database (its DAGSTER_HOME)."""
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "MHC_DAGSTER_PG_URL")}
    cli.dagster_home()
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


def _kill_while_dbt_runs(instance, log: Path) -> str:
    """Start `mhc build`, SIGKILL its whole process group once its run holds the dbt pool's slot and dbt
    is running; return the dead run's id."""
    proc = _start_build(log)
    try:
        run_id = _wait(lambda: next((r for r, _ in runs.pool_holders(instance, "dbt")), None), 300,
                       "the build to claim the dbt pool", proc, log)
        time.sleep(3)  # dbt is running (the slot is claimed right before the dbt step's compute starts)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # what the issue saw
    return run_id


def test_a_killed_build_neither_blocks_nor_hides_the_next(instance, tmp_path):
    dead = _kill_while_dbt_runs(instance, tmp_path / "killed.log")
    assert [r for r, _ in runs.pool_holders(instance, "dbt")] == [dead]

    # a build arriving now ... (the dead run still holds the slot: it is found when a build starts)
    result = subprocess.run([MHC, "build"], env=_env(), capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"run {dead[:8]} (dbt_build, process" in result.stdout
    assert "was left in progress by a process that died: marked failed, its slots freed" in result.stdout
    failed = instance.get_run_by_id(dead)
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert runs.pool_holders(instance, "dbt") == []


def test_a_build_waiting_for_the_pool_says_for_what_and_stops_on_sigterm(instance, tmp_path):
    holder_log, waiter_log = tmp_path / "holder.log", tmp_path / "waiter.log"
    holder = _start_build(holder_log)
    try:
        held = _wait(lambda: next((r for r, _ in runs.pool_holders(instance, "dbt")), None), 300,
                     "the first build to claim the dbt pool", holder, holder_log)
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
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(30)
    # the holder was killed too: under the daemon, the watchdog sensor fails it and frees the slot
    assert runs.pool_holders(instance, "dbt"), "the killed holder should still hold the slot"
    with dg.build_sensor_context(instance=instance) as context:
        outcome = runs.dead_run_watchdog(context)
    assert isinstance(outcome, dg.SkipReason) and f"run {held[:8]}" in outcome.skip_message
    assert instance.get_run_by_id(held).status == dg.DagsterRunStatus.FAILURE
    assert runs.pool_holders(instance, "dbt") == []
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=runs.IN_PROGRESS))
