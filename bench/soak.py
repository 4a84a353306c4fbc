"""Soak: run the pipeline as an operator does (`mhc dev`) for a while and watch whether it holds the cadence.

`mhc dev` is started on a FRESH data folder (a temp dir as MHC_DATA_DIR: its own embedded PostgreSQL,
Dagster home and dbt artifact folders), with the simulator of `--rooms` (200, the default world) on a free
port (MHC_SIMULATOR_PORT) and the Dagster UI on another free port (`--port`). It builds every dbt model once,
then runs `dagster dev` with every schedule and the `dbt_follows_landing` sensor RUNNING. Once the UI is up
and after `--warmup-minutes` (3) and the end of the first scheduled cycle (on a fresh database it lands every
source for the first time: start-up, not cadence), every `--interval` (20) seconds for `--minutes` (60) this
script samples:

  - the lag of the merged state: now() - the as_of of `mhc.person_current_state_build` (the build time the
    merge records at every build: v_person_current_state.state_as_of); also the age of the latest Dagster
    materialization of `person_current_state` (`asset_keys.last_materialization_timestamp` in the `dagster`
    database of the same server), which is the lag when the merge has not been built yet;
  - CPU over the interval, as a share of the whole machine (all cores): the machine's, from /proc/stat; the
    pipeline's = the `mhc dev` process tree (every descendant found through /proc/<pid>/stat's ppid, each
    with utime+stime+cutime+cstime, so the runs, dbt processes and code servers that exited are counted
    through their parents; a descendant that was re-parented away is kept by pid and start time, and its
    last reading kept when it exits) without the simulator (it stands for the remote APIs: shown on its
    own), plus the embedded PostgreSQL (the postmaster's utime+stime+cutime+cstime and every live process
    under it);
  - the disk use of MHC_DATA_DIR (st_blocks, as du), of its dbt_runs, pgdata and dagster_home folders,
    and of the project's dbt_project/target (shared with anyone working in this checkout).

At the end: the runs in Dagster's run storage (SQL on `runs` of the `dagster` database) by job and status,
the failed ones with their error messages (from `event_logs`), sensor/schedule ticks by status, lag
p50/p95/max, the pipeline's and the machine's CPU share (mean, p95), disk growth per hour. Written to
`--out` (default bench/out/soak-<UTC time>/): samples.csv, runs.csv, summary.txt, dev.log (the output of
`mhc dev`) and, when matplotlib is installed in .venv, soak.png (lag with the 90 s and 120 s lines;
pipeline and machine CPU share). Then `mhc dev` is stopped with SIGINT (up to 30 s), its process groups
with SIGTERM/SIGKILL, the embedded PostgreSQL with `mhc db stop`; leftover processes are reported (and
killed when they are ours). The data folder is deleted unless `--keep-data`.

The machine share includes whatever else runs on the machine meanwhile (this script's own sampling is
light); the pipeline's share is its own.

    .venv/bin/python bench/soak.py [--minutes 60] [--rooms 200] [--warmup-minutes 3] [--out DIR] [--keep-data]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
MHC = str(Path(sys.executable).parent / "mhc")
CLK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
STARTED = time.monotonic()


def log(msg: str) -> None:
    el = time.monotonic() - STARTED
    print(f"[{int(el // 60):3d}:{el % 60:04.1f}] {msg}", flush=True)


def free_port(taken: set[int] = frozenset()) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


# ---------------------------------------------------------------------------------------------------
# /proc
@dataclass(frozen=True)
class Proc:
    pid: int
    state: str
    ppid: int
    pgid: int
    start: int  # starttime in clock ticks since boot: (pid, start) names a process for good
    cpu: float  # utime + stime + cutime + cstime, seconds


def proc_table() -> dict[int, Proc]:
    out: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(b")") + 2:].split()
        out[int(name)] = Proc(int(name), rest[0].decode(), int(rest[1]), int(rest[2]), int(rest[19]),
                              sum(int(x) for x in rest[11:15]) / CLK)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:9]]
    total = sum(vals)
    return total - vals[3] - vals[4], total


@dataclass
class Tree:
    """The CPU-seconds of a process tree, kept whole when processes exit or are re-parented."""

    root: int
    exclude: set[int] = field(default_factory=set)  # pids whose subtrees are not ours (walk stops there)
    members: dict[tuple[int, int], tuple[float, bool]] = field(default_factory=dict)  # -> (cpu, parent in tree)
    lost: float = 0.0  # last readings of re-parented members that exited (nobody in the tree reaped them)
    pgids: set[int] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)  # pid -> command line when first seen

    def read(self, table: dict[int, Proc]) -> float:
        children: dict[int, list[int]] = {}
        for p in table.values():
            children.setdefault(p.ppid, []).append(p.pid)
        alive: set[int] = set()
        stack = [self.root]
        while stack:
            pid = stack.pop()
            if pid in self.exclude or pid not in table or pid in alive:
                continue
            alive.add(pid)
            stack.extend(children.get(pid, ()))
        for pid, start in self.members:  # re-parented away, still ours
            p = table.get(pid)
            if p is not None and p.start == start and pid not in self.exclude:
                alive.add(pid)
        keys = {(pid, table[pid].start) for pid in alive}
        for key, (cpu, parent_in_tree) in list(self.members.items()):
            if key not in keys:
                if not parent_in_tree:
                    self.lost += cpu
                del self.members[key]
        for pid in alive:
            p = table[pid]
            if (pid, p.start) not in self.members:
                self.names[pid] = cmdline(pid)[:160]
            self.members[(pid, p.start)] = (p.cpu, p.ppid in alive)
            self.pgids.add(p.pgid)
        return sum(table[pid].cpu for pid in alive) + self.lost

    def alive(self, table: dict[int, Proc] | None = None) -> list[int]:
        """Members still running (zombies, dead but not reaped, excluded)."""
        table = table if table is not None else proc_table()
        return [pid for pid, start in self.members
                if pid in table and table[pid].start == start and table[pid].state != "Z"]


def du(path: Path) -> int:
    """Bytes allocated under path (st_blocks, like du), symlinks not followed."""
    total = 0
    stack = [path]
    while stack:
        p = stack.pop()
        try:
            with os.scandir(p) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += st.st_blocks * 512
                    if e.is_dir(follow_symlinks=False):
                        stack.append(Path(e.path))
        except OSError:
            continue
    return total


def clean(msg: str) -> str:
    """An error message on one line: no colours, dbt's long command line shortened, blank lines dropped."""
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
    msg = re.sub(r"`[^`]*/dbt (\w+)[^`]*`", r"`dbt \1 ...`", msg)
    msg = re.sub(r"Check the stdout in the Dagster compute logs.*?dbt\.log\S*", "", msg, flags=re.S)
    return " / ".join(line.strip() for line in msg.splitlines()
                      if line.strip() and not line.strip().startswith(("compiled code at", "^", "LINE ")))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    v = sorted(x for x in values if x is not None and not math.isnan(x))
    if not v:
        return float("nan")
    return v[max(0, min(len(v) - 1, math.ceil(q / 100 * len(v)) - 1))]


# ---------------------------------------------------------------------------------------------------
class Db:
    """Read-only looks at the pipeline's database and Dagster's (`dagster` on the same server)."""

    def __init__(self, url: str, schema: str = "mhc"):
        self.url = url
        self.dagster_url = urlsplit(url)._replace(path="/dagster").geturl()
        self.schema = schema
        self._conn = None
        self._dconn = None

    def _c(self, dagster: bool = False):
        attr = "_dconn" if dagster else "_conn"
        conn = getattr(self, attr)
        if conn is None or conn.closed:
            conn = psycopg2.connect(self.dagster_url if dagster else self.url, options="-c timezone=UTC")
            conn.autocommit = True
            setattr(self, attr, conn)
        return conn

    def query(self, sql: str, args: tuple = (), dagster: bool = False) -> list[tuple]:
        try:
            with self._c(dagster).cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        except psycopg2.Error:
            conn = self._dconn if dagster else self._conn
            if conn is not None:
                conn.close()
            return []

    def state_lag(self) -> float | None:
        """now() - the merged state's time, seconds: the as_of of the last build of person_current_state
        (person_current_state_build; None: not built yet)."""
        for _attempt in range(2):  # a read racing the first build can fail once
            rows = self.query("select to_regclass(%s) is not null", (f"{self.schema}.person_current_state_build",))
            if rows and rows[0][0]:
                rows = self.query(f"select extract(epoch from now() - max(as_of))::float8 "
                                  f"from {self.schema}.person_current_state_build")
                if rows and rows[0][0] is not None:
                    return rows[0][0]
            time.sleep(1)
        return None

    def materialization_lag(self) -> float | None:
        """Age of the latest ASSET_MATERIALIZATION event of person_current_state, seconds. (Not
        asset_keys.last_materialization_timestamp: it moves when a run that PLANS one is created.)"""
        rows = self.query("""select max(timestamp) from event_logs
                              where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key like %s""",
                          ('%"person_current_state"]',), dagster=True)
        if rows and rows[0][0] is not None:
            ts = rows[0][0]
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
            return time.time() - ts.timestamp()
        return None

    def runs(self) -> list[dict]:
        rows = self.query("""select run_id, pipeline_name, status, create_timestamp, start_time, end_time
                               from runs order by id""", dagster=True)
        origin: dict[str, str] = {}
        for run_id, key, value in self.query(
                """select run_id, key, value from run_tags
                    where key in ('dagster/sensor_name', 'dagster/schedule_name', 'dagster/backfill')""",
                dagster=True):
            origin[run_id] = f"{key.split('/')[1].split('_')[0]} {value}"
        out = []
        for run_id, job, status, created, start, end in rows:
            created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
            out.append({"run_id": run_id, "job": job, "status": status, "created": created,
                        "origin": origin.get(run_id, "launched by mhc dev" if job == "dbt_build" else "?"),
                        "start": start, "end": end,
                        "seconds": (end - start) if start is not None and end is not None else None})
        return out

    def failures(self, run_ids: list[str]) -> dict[str, list[str]]:
        """run id -> the error messages of its step and run failures."""
        if not run_ids:
            return {}
        rows = self.query("""select run_id, dagster_event_type, step_key, event from event_logs
                              where run_id = any(%s) and dagster_event_type in
                                    ('STEP_FAILURE', 'RUN_FAILURE', 'PIPELINE_FAILURE', 'ENGINE_EVENT')
                              order by id""", (run_ids,), dagster=True)
        out: dict[str, list[str]] = {}
        for run_id, kind, step, event in rows:
            try:
                ev = orjson.loads(event)
            except orjson.JSONDecodeError:
                continue
            de = ev.get("dagster_event") or {}
            data = de.get("event_specific_data") or {}
            err = (data.get("error") or {}) if isinstance(data, dict) else {}
            msg = (err.get("message") or "").strip() if isinstance(err, dict) else ""
            if kind == "ENGINE_EVENT" and not msg:
                continue  # engine events without an error are chatter
            if not msg:
                msg = (ev.get("user_message") or de.get("message") or "").strip()
            if msg:
                out.setdefault(run_id, []).append(f"{kind}{f' [{step}]' if step else ''}: {clean(msg)}")
        return out

    def ticks(self) -> list[tuple[str, str, str, int, str]]:
        """(type, name, status, count, first error) of sensor and schedule ticks."""
        rows = self.query("select type, status, tick_body from job_ticks order by id", dagster=True)
        agg: dict[tuple[str, str, str], list] = {}
        for kind, status, body in rows:
            try:
                b = orjson.loads(body)
            except orjson.JSONDecodeError:
                b = {}
            name = b.get("job_name") or b.get("instigator_name") or "?"
            err = ((b.get("error") or {}).get("message") or "").strip() if isinstance(b.get("error"), dict) else ""
            entry = agg.setdefault((kind, name, status), [0, ""])
            entry[0] += 1
            if err and not entry[1]:
                entry[1] = err
        return [(k[0], k[1], k[2], v[0], v[1]) for k, v in sorted(agg.items())]

    def close(self) -> None:
        for conn in (self._conn, self._dconn):
            if conn is not None and not conn.closed:
                conn.close()


# ---------------------------------------------------------------------------------------------------
def wait_for_ui(proc: subprocess.Popen, dev_log: Path, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    last_note = 0.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        text = dev_log.read_text(errors="replace") if dev_log.exists() else ""
        if "Dagster UI:" in text:
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return True
        if time.monotonic() - last_note > 60:
            last_note = time.monotonic()
            tail = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["(no output yet)"]
            log(f"  waiting for the Dagster UI; mhc dev says: {tail[0][:140]}")
        time.sleep(2)
    return False


def stop_dev(proc: subprocess.Popen, tree: Tree, postmaster: int | None) -> list[str]:
    """SIGINT (as Ctrl-C), then SIGTERM/SIGKILL of the process groups of its tree (not a group the
    PostgreSQL server is in: that one is stopped by `mhc db stop`), then of any member left. Returns notes."""
    notes = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
            notes.append(f"mhc dev exited {proc.returncode} within 30 s of SIGINT")
        except subprocess.TimeoutExpired:
            notes.append("mhc dev still running 30 s after SIGINT")
    table = proc_table()
    tree.read(table)  # the last members, for their groups
    pg_group = table[postmaster].pgid if postmaster in table else None
    groups = ({proc.pid} | tree.pgids) - {0, 1, os.getpgrp(), pg_group}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = sorted(g for g in groups if _group_alive(g))
        members = [pid for pid in tree.alive() if pid != postmaster]
        if not live and not members:
            break
        in_groups = [p.pid for p in proc_table().values() if p.pgid in live and p.state != "Z"]
        notes.append(f"{sig.name} to process group(s) {live} (" + ", ".join(
            f"{pid} {(cmdline(pid) or tree.names.get(pid, '?'))[:70]}" for pid in in_groups) + ") and process(es) "
            + (", ".join(f"{pid} ({tree.names.get(pid, '?')[:70]})" for pid in members) or "none"))
        for g in live:
            try:
                os.killpg(g, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in members:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (5 if sig == signal.SIGTERM else 10)
        while time.monotonic() < deadline and (any(_group_alive(g) for g in live)
                                               or [p for p in tree.alive() if p != postmaster]):
            time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    return notes


def _group_alive(pgid: int) -> bool:
    """Whether a process of group pgid still runs (a zombie, dead but not yet reaped, does not)."""
    return any(p.pgid == pgid and p.state != "Z" for p in proc_table().values())


# ---------------------------------------------------------------------------------------------------
def worker_rss_mb(tree: Tree) -> float | None:
    """Resident memory of the dbt worker `mhc dev` started (mhc_pipeline/dbt_worker.py), if it runs."""
    for pid in tree.alive():
        if "mhc_pipeline.dbt_worker" in cmdline(pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return None
            kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            return kb / 1024
    return None


def dbt_worker_summary(path: Path, samples: list[dict]) -> str:
    """One line on the dbt worker: builds served, parses, CPU-s per build, builds it passed on, memory."""
    import re

    if not path.exists():
        return "dbt worker: none (MHC_DBT_WORKER=off, or it did not start)"
    text = path.read_text()
    cpu = [float(m) for m in re.findall(r"exit \d+, ([0-9.]+) CPU-s", text)]
    parses = max((int(m) for m in re.findall(r"parses (\d+)\)", text)), default=0)
    rss = [s["dbt_worker_rss_mb"] for s in samples if s.get("dbt_worker_rss_mb")]
    failed = sum(1 for code in re.findall(r"exit (\d+),", text) if code != "0")
    return (f"dbt worker: {len(cpu)} builds served ({failed} not exit 0), {parses} parses, "
            f"CPU-s per build median {pct(cpu, 50):.2f} p95 {pct(cpu, 95):.2f}; "
            f"{text.count('busy with a build')} builds passed to a dbt process while it was busy; resident memory "
            + (f"{rss[0]:.0f} MB at the first sample, {rss[-1]:.0f} MB at the last" if rss else "n/a"))


def chart(samples: list[dict], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed in .venv: no chart (samples.csv has the data)"
    minutes = [s["elapsed_s"] / 60 for s in samples]
    nan = lambda v: float("nan") if v is None else v  # noqa: E731
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    a.plot(minutes, [nan(s["lag_s"]) for s in samples], label="merged state lag (now - state_as_of of the last build)")
    a.plot(minutes, [nan(s["mat_lag_s"]) for s in samples], label="age of last materialization", alpha=0.6)
    for y, c in ((90, "orange"), (120, "red")):
        a.axhline(y, color=c, linestyle="--", linewidth=1, label=f"{y} s")
    a.set_ylabel("seconds")
    a.legend(loc="upper right")
    b.plot(minutes, [100 * s["pipeline_cpu"] for s in samples], label="pipeline (mhc dev tree + PostgreSQL)")
    b.plot(minutes, [100 * s["machine_cpu"] for s in samples], label="machine")
    b.set_ylabel(f"% of the machine ({NCPU} cores)")
    b.set_xlabel("minutes after the warm-up")
    b.set_ylim(0, 100)
    b.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return f"chart: {path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60, help="sampling time after the warm-up")
    parser.add_argument("--rooms", type=int, default=200, help="MHC_SIMULATOR_ROOMS")
    parser.add_argument("--warmup-minutes", type=float, default=3,
                        help="after the Dagster UI is up (and at least until the first scheduled cycle ended)")
    parser.add_argument("--interval", type=float, default=20, help="seconds between samples")
    parser.add_argument("--startup-timeout", type=float, default=30, help="minutes to wait for the Dagster UI")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep-data", action="store_true", help="keep the data folder (MHC_DATA_DIR)")
    args = parser.parse_args()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or ROOT / "bench" / "out" / f"soak-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="mhc-soak-"))
    ui_port = free_port()
    sim_port = free_port({ui_port})
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MHC_DAGSTER_PG_URL")}
    env.update(MHC_DATA_DIR=str(data_dir), MHC_SIMULATOR_PORT=str(sim_port), MHC_SIMULATOR_ROOMS=str(args.rooms),
               MHC_DATABASE_URL="embedded", PYTHONUNBUFFERED="1")
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = [d for d in subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mhc_pipeline",
                                        "dbt_project"], capture_output=True, text=True).stdout.split("\n") if d]
    log(f"mhc-pipeline {git} ({len(dirty)} uncommitted changes in mhc_pipeline/ and dbt_project/); "
        f"MHC_DATA_DIR={data_dir}; simulator port {sim_port} ({args.rooms} rooms); UI port {ui_port}; out {out}")

    dev_log = out / "dev.log"
    logf = open(dev_log, "wb")
    launched = time.monotonic()
    # its own session (so its group can be stopped whole); SIGINT restored: a background job starts with it
    # ignored, and then Ctrl-C (our SIGINT) would never reach it
    proc = subprocess.Popen([MHC, "dev", "--port", str(ui_port)], cwd=ROOT, env=env, stdout=logf,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    tree = Tree(proc.pid)
    sim = Tree(-1)
    pg = Tree(-1)
    samples: list[dict] = []
    notes: list[str] = []
    db: Db | None = None
    startup: dict = {}
    pgdata = data_dir / "pgdata"
    target = ROOT / "dbt_project" / "target"
    try:
        log("mhc dev started; waiting for the first dbt build and the Dagster UI ...")
        if not wait_for_ui(proc, dev_log, ui_port, args.startup_timeout * 60):
            raise SystemExit(f"mhc dev did not bring the Dagster UI up (exit code {proc.poll()}); see {dev_log}:\n"
                             + "\n".join(dev_log.read_text(errors="replace").splitlines()[-30:]))
        url = subprocess.run([MHC, "db", "url"], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        db = Db(url, env.get("MHC_PRODUCT_SCHEMA", "mhc"))
        postmaster = int((pgdata / "postmaster.pid").read_text().split("\n")[0])
        pg.root = postmaster
        tree.exclude.add(postmaster)
        table = proc_table()
        sims = [p.pid for p in table.values() if "mhc_pipeline.cli simulate" in cmdline(p.pid)
                and p.ppid == proc.pid]
        if sims:
            sim.root = sims[0]
            tree.exclude.add(sims[0])
        startup = {"wall": time.monotonic() - launched, "dev": tree.read(table), "pg": pg.read(table),
                   "sim": sim.read(table)}
        log(f"Dagster UI up after {startup['wall']:.0f} s (first build included); CPU-s so far: mhc dev tree "
            f"{startup['dev']:.0f} (simulator {startup['sim']:.0f} more), PostgreSQL {startup['pg']:.0f}")
        log(f"warm-up: {args.warmup_minutes:g} min, and until the first scheduled cycle has ended")
        time.sleep(args.warmup_minutes * 60)
        # steady state starts after the first cycle: on a fresh database it lands every source for the first
        # time (at 10,000 rooms: 136 s, measured), which is start-up, not cadence
        deadline = time.monotonic() + args.startup_timeout * 60
        while not any(r["job"] == "cycle_every_minute" and r["end"] is not None for r in db.runs()):
            if time.monotonic() > deadline or proc.poll() is not None:
                notes.append("no scheduled cycle ended during the warm-up")
                log(notes[-1])
                break
            time.sleep(5)

        def reading() -> dict:
            table = proc_table()
            busy, total = machine_ticks()
            return {"mono": time.monotonic(), "dev": tree.read(table), "pg": pg.read(table), "sim": sim.read(table),
                    "busy": busy, "total": total, "procs": len(tree.alive(table))}

        prev = reading()
        t0 = prev["mono"]
        n = max(1, round(args.minutes * 60 / args.interval))
        log(f"sampling every {args.interval:g} s for {args.minutes:g} min ({n} samples)")
        for k in range(1, n + 1):
            time.sleep(max(0.0, t0 + k * args.interval - time.monotonic()))
            if proc.poll() is not None:
                notes.append(f"mhc dev exited early with {proc.returncode}")
                log(notes[-1])
                break
            cur = reading()
            dt = cur["mono"] - prev["mono"]
            lag, mat_lag = db.state_lag(), db.materialization_lag()
            s = {
                "utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "elapsed_s": round(cur["mono"] - t0, 1),
                "lag_s": lag if lag is not None else mat_lag,
                "lag_from": "state_as_of" if lag is not None else "materialization",
                "mat_lag_s": mat_lag,
                "pipeline_cpu": (cur["dev"] - prev["dev"] + cur["pg"] - prev["pg"]) / dt / NCPU,
                "dev_cpu": (cur["dev"] - prev["dev"]) / dt / NCPU,
                "pg_cpu": (cur["pg"] - prev["pg"]) / dt / NCPU,
                "sim_cpu": (cur["sim"] - prev["sim"]) / dt / NCPU,
                "machine_cpu": (cur["busy"] - prev["busy"]) / max(1, cur["total"] - prev["total"]),
                "processes": cur["procs"],
                "dbt_worker_rss_mb": worker_rss_mb(tree),
                "data_dir_mb": du(data_dir) / 2**20,
                "dbt_runs_mb": du(data_dir / "dbt_runs") / 2**20,
                "pgdata_mb": du(pgdata) / 2**20,
                "dagster_home_mb": du(data_dir / "dagster_home") / 2**20,
                "project_target_mb": du(target) / 2**20,
            }
            samples.append(s)
            prev = cur
            fmt = lambda v: f"{v:6.0f}s" if v is not None else "    n/a"  # noqa: E731
            log(f"  sample {k:3d}/{n}: lag {fmt(s['lag_s'])} (materialized {fmt(s['mat_lag_s'])} ago); CPU "
                f"pipeline {100 * s['pipeline_cpu']:5.1f}% (PostgreSQL {100 * s['pg_cpu']:4.1f}%), machine "
                f"{100 * s['machine_cpu']:5.1f}% of {NCPU} cores; {s['processes']} processes; data dir "
                f"{s['data_dir_mb']:.0f} MB")
        runs = db.runs()
        failed_ids = [r["run_id"] for r in runs if r["status"] == "FAILURE"]
        failures = db.failures(failed_ids)
        ticks = db.ticks()
    except KeyboardInterrupt:
        notes.append("interrupted")
        runs, failures, ticks = (db.runs(), {}, []) if db else ([], {}, [])
    finally:
        if db is not None:
            db.close()
        log("stopping mhc dev (SIGINT, up to 30 s) ...")
        notes += stop_dev(proc, tree, pg.root if pg.root > 0 else None)
        logf.close()
        r = subprocess.run([MHC, "db", "stop"], cwd=ROOT, env=env, capture_output=True, text=True)
        notes.append(f"mhc db stop: {(r.stdout.strip().splitlines() or ['(no output)'])[-1]} (exit {r.returncode})")
        time.sleep(1)
        table = proc_table()
        left = sorted(set(tree.alive(table)) | set(sim.alive(table)) | set(pg.alive(table)))
        left += [p.pid for p in table.values() if p.pid not in left and p.pid != os.getpid() and p.state != "Z"
                 and (str(data_dir) in cmdline(p.pid) or f"--port {ui_port}" in cmdline(p.pid)
                      or f"-p {ui_port}" in cmdline(p.pid))]
        names = {**pg.names, **sim.names, **tree.names}
        zombies = [pid for pid in names if pid in table and table[pid].state == "Z"]
        if zombies:
            notes.append("exited but not yet reaped (zombies, nothing running): "
                         + "; ".join(f"{pid} {names[pid][:80]}" for pid in zombies))
        if left:
            notes.append("LEFT RUNNING after the stop: " + "; ".join(
                f"{pid} {(cmdline(pid) or names.get(pid, ''))[:100]}" for pid in left))
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(1)
            still = [pid for pid in left if pid in proc_table()]
            notes.append(f"  SIGKILLed them; still alive: {still or 'none'}")
        else:
            notes.append("nothing left running (no process of the mhc dev tree, the simulator, the PostgreSQL "
                         "server, or any process naming the data folder or the UI port)")
        for n_ in notes:
            log(n_)
        worker_log = data_dir / "logs" / "dbt-worker.log"
        if worker_log.exists():  # the dbt worker's line per build (CPU-s, parses), kept with the output
            shutil.copyfile(worker_log, out / "dbt-worker.log")
        if args.keep_data:
            log(f"data kept: MHC_DATA_DIR={data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    # -------- report
    lines: list[str] = []
    say = lines.append
    say("=" * 100)
    say(f"SUMMARY  soak  (mhc-pipeline {git}, {len(dirty)} uncommitted changes; simulator {args.rooms} rooms; "
        f"{len(samples)} samples every {args.interval:g} s over {args.minutes:g} min after a "
        f"{args.warmup_minutes:g}-min warm-up; {NCPU} cores)")
    if startup:
        say(f"start-up (fresh data dir, first dbt build, until the UI answered): {startup['wall']:.0f} s, "
            f"{startup['dev'] + startup['pg']:.0f} CPU-s (mhc dev tree {startup['dev']:.0f}, PostgreSQL "
            f"{startup['pg']:.0f}; the simulator {startup['sim']:.0f} more)")
    by: dict[tuple[str, str, str], list[dict]] = {}
    for r in runs:
        by.setdefault((r["job"], r["origin"], r["status"]), []).append(r)
    say(f"runs in Dagster's run storage: {len(runs)}; by status: "
        + ", ".join(f"{st} {sum(1 for r in runs if r['status'] == st)}" for st in sorted({r['status'] for r in runs})))
    say(f"  {'job':26s} {'launched by':36s} {'status':10s} {'runs':>5s} {'median s':>9s} {'max s':>7s}")
    for (job, origin, st), rs in sorted(by.items()):
        secs = [r["seconds"] for r in rs if r["seconds"] is not None]
        say(f"  {job:26s} {origin:36s} {st:10s} {len(rs):5d} "
            f"{statistics.median(secs) if secs else float('nan'):9.1f} {max(secs) if secs else float('nan'):7.1f}")
    if any(r["status"] not in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
        say("  (runs not SUCCESS/FAILURE/CANCELED were in flight or queued when the runs were read, just "
            "before the stop)")
    for r in runs:
        if r["status"] == "FAILURE":
            msgs = failures.get(r["run_id"], ["(no failure message in the event log)"])
            say(f"  FAILED {r['job']} {r['run_id'][:8]} created {r['created']:%H:%M:%S}: "
                + " | ".join(m[:700] for m in msgs[-1:]))
    bad_ticks = [t for t in ticks if t[2] not in ("SUCCESS", "SKIPPED")]
    say("ticks (sensors, schedules): " + ", ".join(f"{t[1]} {t[2]} {t[3]}" for t in ticks))
    for t in bad_ticks:
        if t[4]:
            say(f"  {t[1]} {t[2]}: {t[4].replace(chr(10), ' ')[:300]}")
    lags = [s["lag_s"] for s in samples if s["lag_s"] is not None]
    src = {s["lag_from"] for s in samples if s["lag_s"] is not None}
    say(f"merged-state lag ({' / '.join(sorted(src)) or 'n/a'}; {len(lags)} of {len(samples)} samples): "
        f"p50 {pct(lags, 50):.0f} s, p95 {pct(lags, 95):.0f} s, max {max(lags, default=float('nan')):.0f} s; "
        f"over 90 s in {sum(1 for x in lags if x > 90)}, over 120 s in {sum(1 for x in lags if x > 120)} samples")
    for name, key in (("pipeline (mhc dev tree + PostgreSQL)", "pipeline_cpu"), ("  of it PostgreSQL", "pg_cpu"),
                      ("simulator (not the pipeline's)", "sim_cpu"), ("machine (everything)", "machine_cpu")):
        vals = [s[key] for s in samples]
        say(f"CPU {name:38s} mean {100 * statistics.fmean(vals) if vals else float('nan'):5.1f}%  p95 "
            f"{100 * pct(vals, 95):5.1f}%  max {100 * max(vals, default=float('nan')):5.1f}%  of the machine "
            f"({NCPU} cores)")
    if len(samples) >= 2:
        hours = (samples[-1]["elapsed_s"] - samples[0]["elapsed_s"]) / 3600
        say("disk growth per hour (first to last sample): " + ", ".join(
            f"{k[:-3]} {(samples[-1][k] - samples[0][k]) / hours:+.0f} MB/h (now {samples[-1][k]:.0f} MB)"
            for k in ("data_dir_mb", "dbt_runs_mb", "pgdata_mb", "dagster_home_mb", "project_target_mb")))
    say(dbt_worker_summary(out / "dbt-worker.log", samples))
    say("stop: " + " / ".join(notes))
    say(f"output: {out}")
    say("=" * 100)

    if samples:
        with open(out / "samples.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(samples[0]))
            w.writeheader()
            w.writerows(samples)
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", "job", "launched_by", "status", "created_utc", "seconds", "failure"])
        for r in runs:
            w.writerow([r["run_id"], r["job"], r["origin"], r["status"], r["created"].isoformat(), r["seconds"],
                        " | ".join(failures.get(r["run_id"], []))[:2000]])
    lines.insert(-1, chart(samples, out / "soak.png") if samples else "no samples: no chart")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
