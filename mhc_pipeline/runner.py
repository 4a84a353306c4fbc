"""Running a job in this process, as `mhc demo`, `mhc build`, `mhc backfill` and `mhc statbate` do.

- `run_job()` executes a job of the code location in process, on the instance of DAGSTER_HOME (so the run
  shows in the Dagster UI), after failing the runs a dead process left in progress; dbt's own output
  goes to a log file under the data folder;
- `RunProgress` is the live feedback meanwhile: one line per landing, a progress bar over the dbt models;
- `summarise_run()`, `failure_text()` and `landing_meta()` read the finished run for its summary lines.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from datetime import UTC, datetime

from mhc_pipeline import settings


class RunProgress:
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


def run_job(job_name: str, run_config: dict | None = None, tags: dict | None = None, progress: bool = False):
    import uuid

    import dagster as dg

    from mhc_pipeline import dbt_project, runs

    dbt_project.ensure_manifest()  # the code location loads the parsed project; importing it never parses
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
    watcher = RunProgress(instance, run_id, models_total) if progress else contextlib.nullcontext()
    # quiet: the run's events are in the Dagster UI, dbt's own output goes to a log file
    config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    logging.getLogger("dagster").setLevel(logging.WARNING)
    logs = settings.data_dir() / "logs"
    logs.mkdir(exist_ok=True)
    path = logs / f"{job_name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    with watcher, open(path, "w") as out, contextlib.redirect_stdout(out), _interrupts_reach_a_waiting_run():
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False, tags=tags,
                                        run_id=run_id)
    result.landings_shown = getattr(watcher, "printed", set())
    print("  (dbt output: "
          f"{path.relative_to(settings.PROJECT_ROOT) if path.is_relative_to(settings.PROJECT_ROOT) else path})")
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


def summarise_run(result) -> list[str]:
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


def failure_text(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            err = event.event_specific_data.error
            return f"step {event.step_key} failed: {err.message.strip() if err else '?'}"
    return "the run failed"


def landing_meta(result, key: str) -> dict:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: v.value for k, v in mat.metadata.items()}
    return {}

