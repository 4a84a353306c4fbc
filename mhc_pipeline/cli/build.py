"""`mhc build`: the dbt build as a Dagster run; or, with --as-of, the merged state at a past time."""

from __future__ import annotations

import sys

import click

from mhc_pipeline import runner, runtime, settings
from mhc_pipeline.utc import parse_time


@click.command("build", short_help="dbt build as a Dagster run, or the state at a past time.")
@click.option("--as-of", default=None,
              help="Build the merged state as it was at this past time (ISO-8601) into its own schema.")
@click.option("--into", default=None, help="The schema of an --as-of build (default as_of_<time>).")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every history table from raw (dbt --full-refresh).")
@click.option("--recompute-merge", is_flag=True,
              help="Recompute every person's merged state in place, not only the persons whose inputs changed.")
def command(as_of: str | None, into: str | None, full_refresh: bool, recompute_merge: bool) -> int:
    """`dbt build` as a run of the job dbt_build (so it shows in the Dagster UI), with a progress bar.
    With --as-of, the merged state as it was at that time, into its own schema: the live product is
    neither read back in time nor overwritten."""
    settings.prepare_env(check=False)
    runtime.ensure_database()
    runtime.dagster_home()
    if as_of:
        return _build_as_of(as_of, into)
    if into:
        print("error: --into names the schema of an as-of build: give --as-of too", file=sys.stderr)
        return 2
    config = {"full_refresh": full_refresh, "recompute_merge": recompute_merge}
    what = " (every person merged again)" if recompute_merge else ""
    print(f"dbt build{' --full-refresh' if full_refresh else ''}{what} ...", flush=True)
    result = runner.run_job("dbt_build", {"ops": {"mhc_dbt_models": {"config": config}}}, progress=True)
    for line in runner.summarise_run(result):
        print(line)
    if not result.success:
        print(f"FAILED: {runner.failure_text(result)}", file=sys.stderr)
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
    result = runner.run_job(dbt.AS_OF_JOB, {"ops": {"dbt_as_of_build": {"config": config}}})
    if not result.success:
        print(f"FAILED: {runner.failure_text(result)}", file=sys.stderr)
        return 1
    print(f"  read it: select * from {schema}.v_person_current_state   (profiles: {schema}.profiles)")
    return 0
