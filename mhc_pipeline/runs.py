"""Dagster runs whose process died: find them, mark them failed, free what they held.

A run executes in one process: a run worker that the daemon's run launcher started (`mhc dev`), or the
`mhc build` / `mhc demo` process itself (in-process). When that process dies (SIGKILL, an OOM kill, a
reboot), the run stays STARTED in Dagster's storage and keeps its slot of the `dbt` pool, so every later
build waits behind it, silently and forever. Dagster's run monitoring notices dead run workers only for
launchers that can check a worker's health (Kubernetes, Docker, ECS): the default launcher of one machine
cannot, and nothing watches in-process runs. So this module does it on one machine, the only topology
where a process id means something:

- the process of a run is the `pid` Dagster itself logs when the run starts ("Started process for run",
  or "Executing steps in process" for an in-process run);
- the run is dead when that process no longer exists, or a newer process has taken its id;
- a dead run is marked failed (what it landed stays landed: each batch is its own transaction) and its
  concurrency slots are freed at once (run monitoring's `free_slots_after_run_end_seconds` does the same
  later for runs that ended any other way).

Called at the start of `mhc build` and `mhc dev`, and every minute by the `dead_run_watchdog` sensor.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import dagster as dg

HOST_TAG = "mhc/host"  # on the runs `mhc` executes in its own process (in-process runs)
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int
    started: float | None  # the run's start (epoch seconds)

    def describe(self) -> str:
        return f"run {self.run_id[:8]} ({self.job_name}, process {self.pid})"


def _pid_of(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The process the run executes in, and when Dagster logged it: the newest engine event with a pid."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False,
                                           limit=50).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = getattr(data, "metadata", {}).get("pid")
        if pid is not None:
            try:
                return int(pid.value), record.event_log_entry.timestamp
            except (TypeError, ValueError):
                continue
    return None


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def process_alive_since(pid: int, logged_at: float) -> bool:
    """Whether process `pid` exists and already existed when `logged_at` (not a newer process that was
    given the same id)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return True
    return started <= logged_at + 1.0


def _local(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the run executed on this machine, so that its process id can be checked here."""
    host = run.tags.get(HOST_TAG)
    if host is not None:
        return host == socket.gethostname()
    from dagster._core.launcher import DefaultRunLauncher

    # launched by the daemon: the default launcher starts run workers beside the code server, here
    return isinstance(instance.run_launcher, DefaultRunLauncher)


def dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Runs stored as in progress whose process on this machine is gone."""
    dead = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        if run.run_id == os.environ.get("DAGSTER_RUN_ID") or not _local(instance, run):
            continue
        found = _pid_of(instance, run.run_id)
        if found is None:
            continue  # not started yet (the launcher's start timeout covers that)
        pid, logged_at = found
        if pid == os.getpid() or process_alive_since(pid, logged_at):
            continue
        dead.append(DeadRun(run.run_id, run.job_name, pid, record.start_time))
    return dead


def fail_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Mark every dead run failed and free the concurrency slots it held. Returns them."""
    dead = dead_runs(instance)
    for run in dead:
        stored = instance.get_run_by_id(run.run_id)
        if stored is None or stored.status not in IN_PROGRESS:
            continue
        instance.report_run_failed(
            stored, f"its process ({run.pid}) died before the run finished (killed, out of memory, or a "
                    "reboot); marked failed by mhc, and its slots freed. What it landed stays landed; the "
                    "next landing or `mhc build` goes on from there.")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    free_slots_of_ended_runs(instance)
    return dead


def pool_holders(instance: dg.DagsterInstance, pool: str) -> list[tuple[str, str | None]]:
    """(run id, step key) of every slot of `pool` that is claimed now."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    return [(slot.run_id, slot.step_key) for slot in storage.get_concurrency_info(pool).claimed_slots]


def free_slots_of_ended_runs(instance: dg.DagsterInstance) -> int:
    """Free the pool slots still claimed by runs that have ended (what run monitoring's
    `free_slots_after_run_end_seconds` does under the daemon; here also without one)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    run_ids = storage.get_concurrency_run_ids()
    if not run_ids:
        return 0
    freed = 0
    for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(run_ids))):
        if record.dagster_run.is_finished:
            freed += storage.free_concurrency_slots_for_run(record.dagster_run.run_id) or 0
    return freed


@dg.sensor(
    name="dead_run_watchdog",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: a run whose process died (killed, out of memory, a reboot) is marked failed "
                "and the pool slots it held are freed, so the dbt builds after it do not wait forever.",
)
def dead_run_watchdog(context: dg.SensorEvaluationContext):
    dead = fail_dead_runs(context.instance)
    for run in dead:
        context.log.warning(f"{run.describe()}: its process died; marked failed and its slots freed")
    return dg.SkipReason("; ".join(f"failed {r.describe()}: its process died" for r in dead)
                         or "no run left in progress by a dead process")
