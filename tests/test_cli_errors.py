"""Bad settings give one line that names the problem and the fix, and a non-zero exit, never a traceback;
`mhc db status` / `db start` connect before they say "ready" or "running"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MHC = str(Path(sys.executable).parent / "mhc")
UNREACHABLE = "postgresql://someone:s3cret-pw@127.0.0.1:9/mhc"  # port 9 (discard): nothing listens


def _mhc(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([MHC, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def env(tmp_path) -> dict:
    env = dict(os.environ, MHC_DATA_DIR=str(tmp_path / "data"))
    for name in ("DAGSTER_HOME", "MHC_DAGSTER_PG_URL"):
        env.pop(name, None)
    return env


@pytest.mark.parametrize("command", [["db", "status"], ["db", "start"], ["db", "url"], ["build"]])
def test_an_unreachable_database_url_is_one_line_naming_it_and_the_fix(env, command):
    result = _mhc(*command, env={**env, "MHC_DATABASE_URL": UNREACHABLE})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot connect to the database postgresql://someone:***@127.0.0.1:9/mhc")
    assert "Check MHC_DATABASE_URL" in lines[0]
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert "ready" not in result.stdout


def test_db_status_asks_the_server_and_is_not_fooled_by_a_stale_pid_file(env, tmp_path):
    env = {**env, "MHC_DATABASE_URL": "embedded"}
    assert _mhc("db", "status", env=env).stdout.strip() == "stopped"
    pgdata = tmp_path / "data" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "postmaster.pid").write_text("999999\n")  # what a killed server leaves
    result = _mhc("db", "status", env=env)
    assert result.returncode == 1 and result.stdout.startswith("stopped (a stale postmaster.pid"), result.stdout
