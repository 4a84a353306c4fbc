"""Shared test fixtures: ONE embedded PostgreSQL and ONE simulator per test session, both real.

Every test talks to a real PostgreSQL 18 (embedded, in a temporary folder) and to the simulator over
real HTTP on 127.0.0.1. dbt runs for real.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mhc_pipeline import db, settings

SIM_ROOMS = 50
SIM_SEED = 7


@pytest.fixture(scope="session", autouse=True)
def _session_env():
    tmp = Path(tempfile.mkdtemp(prefix="mhc-test-"))
    os.environ["MHC_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("DAGSTER_HOME", None)
    # what every `mhc` command does before Dagster loads the code location: the settings' defaults in the
    # environment (importing the definitions only reads them) and a current dbt manifest (never parsed there)
    settings.prepare_env(check=False)
    from mhc_pipeline import dbt_project

    dbt_project.ensure_manifest()
    # one dbt worker for the session, as `mhc dev` starts one: every dbt build of a Dagster run (and of the
    # `mhc` commands the tests start) runs in it with the project parsed once, and a build that comes while
    # it is busy runs in a dbt process of its own (mhc_pipeline/dbt_worker.py)
    worker = _start_dbt_worker(tmp)
    yield tmp
    worker.terminate()
    worker.wait(15)


def _start_dbt_worker(tmp: Path):
    import subprocess
    import sys
    import time

    from mhc_pipeline import dbt_worker
    from mhc_pipeline.devserver import _dev_child_setup

    sock, log = tmp / "dbt.sock", tmp / "dbt-worker.log"
    with open(log, "wb") as out:  # (it ends with the session even when the session is killed: PR_SET_PDEATHSIG)
        proc = subprocess.Popen([sys.executable, "-m", "mhc_pipeline.dbt_worker", str(sock)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=settings.DBT_PROJECT_DIR, preexec_fn=_dev_child_setup)
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    os.environ[dbt_worker.SOCKET_ENV] = str(sock)
    return proc


@pytest.fixture(scope="session")
def pg_url(_session_env) -> str:
    url = db.start_embedded(_session_env / "pgdata", cleanup_mode="delete")
    # a throw-away server: no durability across an OS crash (every dbt build commits hundreds of DDL
    # statements; each waited for its WAL flush). Production keeps PostgreSQL's defaults.
    with db.connection(url) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                cur.execute(f"alter system set {setting} = off")
            cur.execute("select pg_reload_conf()")
    os.environ["MHC_DATABASE_URL"] = url
    db.export_libpq_env(url)
    return url


@pytest.fixture(scope="session")
def sim(_session_env):
    from mhc_pipeline.simulator import Simulator

    simulator = Simulator(rooms=SIM_ROOMS, seed=SIM_SEED, port=0).start()
    port = simulator.url.rsplit(":", 1)[1]
    os.environ["MHC_SIMULATOR_PORT"] = port
    for s in settings.SETTINGS:
        if s.name.endswith("_URL") and s.name != "MHC_DATABASE_URL":
            os.environ[s.name] = s.default_for(os.environ)
        if s.kind in ("credential", "secret"):
            os.environ[s.name] = s.sim_value
    yield simulator
    simulator.stop()


@pytest.fixture()
def fresh_sim(sim):
    """The session simulator with no faults queued and the clock frozen at a fixed time."""
    sim.clear_faults()
    sim.set_time(datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    yield sim
    sim.clear_faults()
    sim.set_time(None)


@pytest.fixture()
def conn(pg_url):
    with db.connection(pg_url) as connection:
        yield connection


def reset_raw(conn, *tables: str) -> None:
    """Empty the raw landing tables (and their bookkeeping) between tests."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('raw.batches')")
        if cur.fetchone()[0] is None:
            conn.commit()
            return
        cur.execute("truncate raw.batches, raw.quarantine")
        for table in tables:
            cur.execute(f"truncate raw.{table}")
    conn.commit()


def count(conn, sql: str, *params) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def reset_database(conn) -> None:
    """Empty every raw table and drop the dbt schemas: a module that builds dbt starts from nothing."""
    from mhc_pipeline import load
    from mhc_pipeline.sources import RAW_TABLES

    autocommit = conn.autocommit
    conn.autocommit = False
    for table in RAW_TABLES:
        load.ensure_raw_table(conn, table)
    with conn.cursor() as cur:
        cur.execute("truncate raw.batches, raw.quarantine, " + ", ".join(f"raw.{t}" for t in RAW_TABLES))
        cur.execute("drop table if exists raw.cursors")
        cur.execute("drop schema if exists mhc, staging, intermediate cascade")
    conn.commit()
    conn.autocommit = autocommit
