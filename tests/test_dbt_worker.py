"""The dbt worker (mhc_pipeline/dbt_worker.py): `mhc-dbt` runs a build in the long-lived worker, which
keeps the parsed project in memory, and the build does what `dbt` does. Real dbt, real PostgreSQL; the
worker is a real process on a Unix socket, as `mhc dev` starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mhc_pipeline import db, dbt_worker, load, settings
from mhc_pipeline.dbt_project import DBT_EXECUTABLE
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.simulator.cbhours import live_data
from mhc_pipeline.sources import RAW_COLUMNS, RAW_TABLES
from tests.conftest import count, reset_database

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROJECT = str(settings.DBT_PROJECT_DIR)
MODELS_ONLY = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


class Worker:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.socket = tmp / "w.sock"
        self.log = tmp / "worker.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "mhc_pipeline.dbt_worker", str(self.socket)],
                                         stdout=log, stderr=log, cwd=PROJECT)
        for _ in range(300):
            if self.socket.exists() or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        assert self.socket.exists(), self.log.read_text()

    def env(self) -> dict:
        return {**os.environ, dbt_worker.SOCKET_ENV: str(self.socket)}

    def dbt(self, *args: str, **popen) -> subprocess.Popen:
        cmd = [DBT_EXECUTABLE, *args, "--project-dir", PROJECT, "--profiles-dir", PROJECT, "--target-path",
               str(self.tmp / "target"), "--log-path", str(self.tmp), "--log-format", "json"]
        return subprocess.Popen(cmd, env=self.env(), cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **popen)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        proc = self.dbt(*args)
        out, err = proc.communicate(timeout=600)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if "dbt worker:" in line]


def _land_live(conn, world, names: list[str], t: datetime, tmp: Path) -> None:
    path = tmp / f"live-{t:%H%M%S}.json"
    path.write_bytes(orjson.dumps({"server_status": "up", "data": live_data(world, names, t)}))
    load.land(conn, cbhours.live_batch_from_file(path, t))


def _events(stdout: str) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def worker(pg_url, sim, tmp_path_factory):
    """A fresh database with one CBHours live cycle landed, and a worker; nothing built yet."""
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
    tmp = tmp_path_factory.mktemp("dbt-worker")
    db.export_libpq_env(pg_url)
    names = [u for u in (r["username"] for r in sim.world.online_rooms(T0)) if sim.world.in_trophy_db(u)][:4]
    with db.connection(pg_url) as conn:
        for table in RAW_TABLES:  # dbt reads every raw table (as the dbt asset makes sure)
            load.ensure_raw_table(conn, table, "raw", RAW_COLUMNS.get(table, ()))
        _land_live(conn, sim.world, names, T0, tmp)
    w = Worker(tmp)
    w.names = names
    yield w
    w.proc.send_signal(signal.SIGTERM)
    w.proc.wait(15)
    assert not w.socket.exists()


def test_builds_in_the_worker_do_what_dbt_does_and_parse_the_project_once(worker, pg_url, sim):
    assert Path(DBT_EXECUTABLE).name == "mhc-dbt"  # what the dbt asset runs (dbt_project.DBT_EXECUTABLE)
    first = worker.run("build", *MODELS_ONLY)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    # dbt's own JSON log lines, as dagster-dbt reads them from a dbt process
    built = {e["data"]["node_info"]["unique_id"] for e in _events(first.stdout)
             if e["info"]["name"] == "LogModelResult"}
    assert "model.mhc.person_current_state" in built, sorted(built)[:5]
    assert (worker.tmp / "target" / "run_results.json").exists()

    with db.connection(pg_url) as conn:
        before = count(conn, "select count(*) from mhc.person_current_state")
        _land_live(conn, sim.world, worker.names, T0 + timedelta(minutes=1), worker.tmp)
        landed = count(conn, "select count(*) from raw.cbhours_live")
    second = worker.run("build", *MODELS_ONLY, "--select", "source:raw.cbhours_live+")
    assert second.returncode == 0, second.stdout[-3000:]
    with db.connection(pg_url) as conn:
        assert landed == 2
        # the second cycle reached the merged state: its observations are in the history
        assert count(conn, "select count(distinct checked_at) from mhc.cbhours_live_stats") == 2
        assert count(conn, "select count(*) from mhc.person_current_state") == before > 0

    # a command line dbt refuses: dbt's exit code and message, and the worker serves the next build
    bad = worker.run("build", "--no-such-flag")
    assert bad.returncode == 2 and "no-such-flag" in (bad.stdout + bad.stderr), bad.stdout[-2000:] + bad.stderr
    lines = worker.lines()
    assert sum("dbt build exit 0" in line for line in lines) == 2, lines
    assert all("parses 1)" in line for line in lines if "exit" in line), lines  # parsed once, reused


def test_the_dagster_dbt_asset_builds_through_the_worker(worker, monkeypatch):
    from mhc_pipeline.dbt import MERGED_KEY, mhc_dbt_models
    from mhc_pipeline.definitions import defs

    monkeypatch.setenv(dbt_worker.SOCKET_ENV, str(worker.socket))
    builds = [line for line in worker.lines() if " exit " in line]
    result = dg.materialize([mhc_dbt_models], resources=defs.resources, raise_on_error=False, selection=[MERGED_KEY])
    assert result.success
    [mat] = [m for m in result.asset_materializations_for_node("mhc_dbt_models") if m.asset_key == MERGED_KEY]
    assert mat.metadata["persons"].value > 0, mat.metadata  # the asset's own metadata, read after dbt's event
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    after = [line for line in worker.lines() if " exit " in line]
    new = after[len(builds):]  # the models' build, then their tests (dbt.dbt_invocations)
    assert [line.split("dbt worker: ")[1].split(",")[0] for line in new] == ["dbt build exit 0", "dbt test exit 0"], new


def test_a_build_interrupted_by_its_caller_stops_and_the_worker_serves_the_next(worker, pg_url):
    """Dagster terminates a run: dagster-dbt interrupts `mhc-dbt` (SIGINT), which ends the build in the
    worker as Ctrl-C ends dbt (its query is cancelled); a build that comes while one runs is run by its own
    dbt. The build is held on a lock the test takes, so it is still running when it is interrupted."""
    with db.connection(pg_url) as conn, conn.cursor() as cur:  # the table to lock (run alone, no test built it)
        cur.execute("select to_regclass('mhc.persons')")
        missing = cur.fetchone()[0] is None
    if missing:
        built = worker.run("build", *MODELS_ONLY)
        assert built.returncode == 0, built.stdout[-3000:]
    with db.connection(pg_url) as blocker:
        with blocker.cursor() as cur:
            cur.execute("lock table mhc.persons in access exclusive mode")
        slow = worker.dbt("build", *MODELS_ONLY, "--select", "persons")
        started = time.monotonic()
        for line in slow.stdout:  # the build has started its model (which waits for the lock)
            if '"LogStartLine"' in line and "persons" in line:
                break
        beside = worker.run("build", "--help")  # served by the worker, were it not busy: dbt's own process
        assert beside.returncode == 0 and "Usage" in beside.stdout, beside.stdout[-2000:] + beside.stderr
        slow.send_signal(signal.SIGINT)
        slow.communicate(timeout=30)  # (reading on, as dagster-dbt does)
        assert slow.returncode == 130
        assert time.monotonic() - started < 60
        blocker.rollback()
    after = worker.run("build", *MODELS_ONLY, "--select", "source:raw.cbhours_live+")
    assert after.returncode == 0, after.stdout[-3000:]
    lines = worker.lines()
    assert any("busy" in line for line in lines), lines
    assert any("exit 2," in line or "exit 130," in line for line in lines), lines  # the interrupted build
    assert worker.proc.poll() is None
