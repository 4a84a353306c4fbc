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


GOOD_PAGE = b'{"results": [{"username": "a_room", "num_users": 3}], "count": 2}'


@pytest.mark.parametrize("content, fetched_at, says", [
    (b"", "2026-11-20T17:55:00Z", "is empty"),
    (b"\x00\x01\x02\xff\xfe binary", "2026-11-20T17:55:00Z", "not UTF-8 text"),
    (b"\xef\xbb\xbf" + GOOD_PAGE, "2026-11-20T17:55:00Z", "byte-order mark"),
    (b'{"rooms": []}', "2026-11-20T17:55:00Z", "is not a saved Affiliate answer"),
    (b'{"results": [', "2026-11-20T17:55:00Z", "not JSON"),
    (b"[" + GOOD_PAGE + b', {"detail": "Too many requests"}]', "2026-11-20T17:55:00Z",
     "page 1 of 2 is not an Affiliate page"),
    (None, "2026-11-20T17:55:00Z", "no such file"),
    (GOOD_PAGE, "yesterday at five", "is not a time"),
], ids=["empty", "binary", "bom", "wrong-shape", "truncated", "a-bad-page-in-a-list", "missing", "bad-fetched-at"])
def test_mhc_land_with_a_bad_file_or_time_is_one_line_and_lands_nothing(env, tmp_path, content, fetched_at, says):
    path = tmp_path / "saved.json"
    if content is not None:
        path.write_bytes(content)
    # an unreachable database: the file is refused before anything connects, so nothing can change
    result = _mhc("land", "affiliate", str(path), "--fetched-at", fetched_at,
                  env={**env, "MHC_DATABASE_URL": UNREACHABLE})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "landed" not in result.stdout


def test_the_database_going_away_mid_run_is_one_line_and_the_run_is_then_marked_failed(env, sim):
    """The embedded server stops (fast shutdown) while `mhc backfill` crawls: one line naming it and the
    fix, exit 3, no traceback and none of Dagster's storage retries; the next command that starts a run
    marks the interrupted run failed (its process is gone) and says so."""
    import signal
    import time

    env = {**env, "MHC_DATABASE_URL": "embedded",
           "MHC_WATCHLIST": ",".join(sim.world.usernames[:40])}  # ~40 requests at 1/s: still crawling
    assert _mhc("db", "start", env=env).returncode == 0
    pgdata = Path(env["MHC_DATA_DIR"]) / "pgdata"
    err = Path(env["MHC_DATA_DIR"]) / "backfill.err"
    try:
        with open(err, "w") as stderr:
            proc = subprocess.Popen([MHC, "backfill", "cbhours-activity", "--days", "3"], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=stderr)
            deadline = time.monotonic() + 120
            while "| 2/" not in err.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            assert proc.poll() is None, err.read_text()[-2000:]
            os.kill(int((pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
            out, _ = proc.communicate(timeout=180)
        lines = [line for line in err.read_text().replace("\r", "\n").splitlines()
                 if line.strip() and "cbhours activity 20" not in line]  # the progress bar
        assert proc.returncode == 3, (out, lines)
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: the database went away during `mhc backfill`"), lines
        assert "run the command again" in lines[0] and "Traceback" not in err.read_text()
        assert _mhc("db", "start", env=env).returncode == 0
        again = _mhc("statbate", sim.world.usernames[0], env=env)
        assert again.returncode == 0, again.stderr
        assert "(cbhours_activity_job, process" in again.stdout, again.stdout
        assert "was left in progress by a process that died: marked failed" in again.stdout
    finally:
        _mhc("db", "stop", env=env)


def test_a_deployment_with_a_source_url_at_the_simulator_default_stops_at_start_up_naming_it(env):
    """MHC_ENV=production (or a database other than the embedded one) with a source URL left unset: `mhc dev`
    and the code location itself stop at once with one line naming the setting and its real value, not at
    the first run with "connection refused"."""
    env = {k: v for k, v in env.items() if k != "MHC_AFFILIATE_URL"}
    for extra in ({"MHC_ENV": "production", "MHC_DATABASE_URL": "embedded"},
                  {"MHC_ENV": "development", "MHC_DATABASE_URL": UNREACHABLE}):
        result = _mhc("dev", env={**env, **extra})
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: MHC_AFFILIATE_URL is not set, and in production")
        assert "MHC_AFFILIATE_URL=https://chaturbate.com/api/public/affiliates/onlinerooms/" in lines[0]
        assert "s3cret-pw" not in result.stderr
    loaded = subprocess.run([sys.executable, "-c", "import mhc_pipeline.definitions"], capture_output=True,
                            text=True, timeout=120, env={**env, "MHC_ENV": "production"})
    assert loaded.returncode != 0 and "MHC_AFFILIATE_URL is not set, and in production" in loaded.stderr
    # set on purpose (a rehearsal against the simulator), it is the operator's choice
    assert subprocess.run([sys.executable, "-c", "import mhc_pipeline.definitions"], capture_output=True,
                          timeout=120, env={**env, "MHC_ENV": "production",
                                            "MHC_AFFILIATE_URL": "http://127.0.0.1:8765/x"}).returncode == 0


def test_doctor_lists_every_setting_where_it_came_from_and_which_sources_answer(sim, env):  # (sim first: its URLs)
    from mhc_pipeline import settings

    env = {**env, "MHC_AFFILIATE_WM": "wm-kept-secret", "MHC_OWNER": "someone_else",
           "MHC_STATS_URL": "http://127.0.0.1:9/statsapi/"}  # nothing listens on port 9
    result = _mhc("doctor", env=env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # the stats URL does not answer
    for s in settings.SETTINGS:
        assert f"  {s.name} " in out, s.name
    owner = next(line for line in out.splitlines() if line.strip().startswith("MHC_OWNER "))
    assert "someone_else" in owner and owner.rstrip().endswith("environment")
    wm = next(line for line in out.splitlines() if line.strip().startswith("MHC_AFFILIATE_WM "))
    assert "(set, hidden)" in wm and "wm-kept-secret" not in out + result.stderr
    assert "  affiliate: answers (HTTP " in out and "  cbhours: answers (HTTP" in out, out[out.index("answers:"):]
    assert "  stats: NO ANSWER: " in out
    # a production deployment that left a URL unset: listed, then the error naming it (exit 2)
    env.pop("MHC_CBHOURS_URL")
    result = _mhc("doctor", "--no-probe", env={**env, "MHC_ENV": "production"})
    assert result.returncode == 2 and "error: MHC_CBHOURS_URL is not set" in result.stderr, result.stderr
    assert "answers" not in result.stdout
