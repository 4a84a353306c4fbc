"""`mhc dev`: `dagster dev` (UI, daemon, schedules) on the pipeline's database, with the simulator.

At start it builds every dbt model once on a fresh database, stops what an earlier `mhc dev` left running
(its process group), marks failed the runs it left in progress and drops the runs it left queued. Then
`dagster dev` runs in its own process group: Ctrl-C or SIGTERM stop it, and whatever it leaves behind,
within ~5 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mhc_pipeline import db, report, runner, runtime, settings


def serve(host: str, port: int) -> int:
    """Run `dagster dev` on `host`:`port` until Ctrl-C or SIGTERM; its exit code."""
    settings.prepare_env()
    if runtime.port_in_use(host, port):
        print(f"error: {runtime.port_taken_message('dev', host, port)}", file=sys.stderr)
        return 2
    url = runtime.ensure_database()
    home = runtime.dagster_home()
    # once, before the daemon starts: the run workers import the code location, which never parses dbt
    from mhc_pipeline import dbt_project

    dbt_project.ensure_manifest()
    sim = None
    sim_port = settings.get("MHC_SIMULATOR_PORT")
    if runtime.uses_simulator() and not runtime.simulator_running(sim_port):
        sim = subprocess.Popen([sys.executable, "-m", "mhc_pipeline.cli", "simulate", "--port", sim_port])
        for _ in range(100):
            if runtime.simulator_running(sim_port):
                break
            time.sleep(0.1)
    print(f"database: {db.redact_url(url)}\nDAGSTER_HOME: {home}\nsimulator: http://127.0.0.1:{sim_port}")
    if not report.models_built(url):
        # the dbt_follows_landing sensor rebuilds the models downstream of new data; build everything
        # (seeds included) once so that its first partial run has every table it reads
        print("first start on this database: building every dbt model once (job dbt_build) ...", flush=True)
        result = runner.run_job("dbt_build", progress=True)
        for line in runner.summarise_run(result):
            print(line)
    leftover = _stop_leftover_dev()
    if leftover:
        print(f"stopped what an earlier `mhc dev` left running (process group {leftover})", flush=True)
    orphans = _fail_orphaned_runs()
    if orphans:
        print(f"marked {orphans} run(s) failed that an earlier `mhc dev` left in progress when it stopped", flush=True)
    dropped = _drop_stale_queued_runs()
    if dropped:
        print(f"dropped {dropped} queued run(s) an earlier `mhc dev` left behind (their schedules and the sensor "
              f"request fresh ones)", flush=True)
    worker = _start_dbt_worker()
    print(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C stops it)", flush=True)
    dagster = str(Path(sys.executable).parent / "dagster")
    # started from a background job, a process inherits SIGINT ignored: restore it for dagster dev
    # its own process group, so that whatever it leaves behind (a code server whose heartbeat never stops
    # it) can be stopped with it; Ctrl-C reaches this process and is passed on below
    proc = subprocess.Popen([dagster, "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)],
                            cwd=settings.PROJECT_ROOT, process_group=0, preexec_fn=_dev_child_setup)
    _dev_pidfile().write_text(str(proc.pid))
    # a SIGTERM (a supervisor, `kill`) is passed on too, so that its webserver, daemon and code servers
    # never outlive this command
    stopping: list[float] = []
    restarts: list[float] = []  # when the dbt worker was restarted (at most 3 in 10 minutes)

    def stop(*_) -> None:
        if not stopping:
            stopping.append(time.monotonic())
            proc.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            try:
                return proc.wait(0.5)
            except subprocess.TimeoutExpired:
                # dagster dev's own shutdown waits for its code servers, daemon and run workers (up to a
                # minute, measured): give it 2.5 s, then stop its whole process group (finally), so that
                # `mhc dev` ends within ~5 s of Ctrl-C or SIGTERM and leaves nothing behind (the runs it
                # cuts off are marked failed at the next start)
                if stopping and time.monotonic() - stopping[0] > 2.5:
                    return 0
                if worker is not None and not stopping and worker.poll() is not None:
                    worker = _restart_dbt_worker(worker, restarts)
            except KeyboardInterrupt:
                stop()
    finally:
        _stop_group(proc.pid, grace=2.0)
        _dev_pidfile().unlink(missing_ok=True)
        if worker is not None:
            _stop_group(worker.pid, grace=2.0)
        if sim is not None:
            sim.send_signal(signal.SIGTERM)
            try:
                sim.wait(3)
            except subprocess.TimeoutExpired:
                sim.kill()


def _start_dbt_worker() -> subprocess.Popen | None:
    """The long-lived dbt worker (mhc_pipeline.dbt_worker) that runs the runs' dbt builds with the project
    parsed once, unless MHC_DBT_WORKER=off. Its socket goes to the runs through the environment `dagster
    dev` inherits; its log is MHC_DATA_DIR/logs/dbt-worker.log. Like `dagster dev`, it has a process group
    of its own and ends with `mhc dev`."""
    from mhc_pipeline import dbt_worker

    if settings.get("MHC_DBT_WORKER").strip().lower() in ("off", "0", "false", "no"):
        return None
    path, logs = _dbt_worker_paths()
    worker = _spawn_dbt_worker()
    for _ in range(150):  # dbt's import: ~3 s
        if path.exists() or worker.poll() is not None:
            break
        time.sleep(0.1)
    if worker.poll() is not None:
        print(f"the dbt worker did not start (see {logs / 'dbt-worker.log'}): every build starts its own dbt",
              flush=True)
        return None
    os.environ[dbt_worker.SOCKET_ENV] = str(path)
    print(f"dbt worker: {path} (pid {worker.pid}, log {logs / 'dbt-worker.log'})", flush=True)
    return worker


def _dbt_worker_paths() -> tuple[Path, Path]:
    """The dbt worker's socket and log folder, under MHC_DATA_DIR."""
    logs = settings.data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return settings.data_dir() / "dbt-worker.sock", logs


def _spawn_dbt_worker() -> subprocess.Popen:
    path, logs = _dbt_worker_paths()
    with open(logs / "dbt-worker.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "mhc_pipeline.dbt_worker", str(path)], stdout=log,
                                stderr=log, cwd=settings.DBT_PROJECT_DIR, process_group=0,
                                preexec_fn=_dev_child_setup)


def _restart_dbt_worker(dead: subprocess.Popen, restarts: list[float]) -> subprocess.Popen | None:
    """A dbt worker that ended while `mhc dev` runs (killed, out of memory) is started again, without
    waiting for it: until its socket is back, each build runs a dbt process of its own (`mhc-dbt` falls
    back when nothing answers). A worker that keeps dying (a fourth time within 10 minutes) is left down,
    saying so: the builds go on in their own dbt processes."""
    _, logs = _dbt_worker_paths()
    now = time.monotonic()
    restarts[:] = [t for t in restarts if now - t < 600]
    if len(restarts) >= 3:
        print(f"the dbt worker ended again (exit {dead.returncode}; 3 restarts in 10 minutes): not restarting "
              f"it, every build starts its own dbt until `mhc dev` restarts (see {logs / 'dbt-worker.log'})",
              flush=True)
        return None
    restarts.append(now)
    worker = _spawn_dbt_worker()
    print(f"the dbt worker ended (exit {dead.returncode}; see {logs / 'dbt-worker.log'}): restarted it "
          f"(pid {worker.pid}); builds run their own dbt until it answers", flush=True)
    return worker


def _dev_child_setup() -> None:
    """In `dagster dev`, before it runs: restore SIGINT (a background job inherits it ignored), and ask
    the kernel for a SIGTERM when `mhc dev` dies, even of SIGKILL (PR_SET_PDEATHSIG), so that it never
    runs on without its parent."""
    import ctypes

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _dev_pidfile() -> Path:
    return settings.data_dir() / "dagster-dev.pgid"


def _stop_leftover_dev() -> int | None:
    """The process group of a `dagster dev` that an earlier `mhc dev` started and that still runs (the
    earlier one was killed before it could stop it): stop it, so two daemons never share one database."""
    path = _dev_pidfile()
    try:
        pgid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    path.unlink(missing_ok=True)
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return None
    _stop_group(pgid, grace=3.0)
    return pgid


def _drop_stale_queued_runs() -> int:
    """Runs a schedule or the sensor queued under an earlier `mhc dev` and that never started: each is
    older than its own cadence by now, and the next tick requests a fresh one, so working off that
    backlog would only delay the current data. Mark them canceled, saying why."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    queued = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED,
                                                               dg.DagsterRunStatus.NOT_STARTED]))
    dropped = 0
    for run in queued:
        if "dagster/schedule_name" in run.tags or "dagster/sensor_name" in run.tags:
            instance.report_run_canceled(run, "dropped: queued under an earlier `mhc dev` and never started; "
                                              "its schedule or sensor requests a fresh run")
            dropped += 1
    return dropped


def _stop_group(pgid: int, grace: float = 5.0) -> None:
    """SIGTERM a process group, then SIGKILL whatever is left of it after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _group_running(pgid):
                return
            time.sleep(0.2)


def _group_running(pgid: int) -> bool:
    """A process of the group still runs (zombies, which kill(0) still finds until they are reaped, ended)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _fail_orphaned_runs() -> int:
    """Runs that a schedule or sensor launched under an earlier `mhc dev` and that were still in progress
    when it stopped: their process is gone, and Dagster's default run launcher cannot notice it, so
    they would show as in progress forever. Mark them failed (what they landed stays landed: every batch
    is its own transaction). Runs of `mhc demo`/`mhc build` (in-process, no schedule or sensor) are left
    alone."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    stuck = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING,
                                                               dg.DagsterRunStatus.STARTED,
                                                               dg.DagsterRunStatus.CANCELING]))
    failed = 0
    for run in stuck:
        if "dagster/schedule_name" in run.tags or "dagster/sensor_name" in run.tags:
            instance.report_run_failed(run, "interrupted: the `mhc dev` that ran it stopped before it finished")
            failed += 1
    from mhc_pipeline import runs

    return failed + len(runs.fail_dead_runs(instance))  # and those of a `mhc build` or `mhc demo` that died
