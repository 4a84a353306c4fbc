"""`mhc import-legacy`: import the MHC Control Panel's database, read-only and incremental."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from mhc_pipeline import db, runtime, settings


@click.command("import-legacy", short_help="Import the MHC Control Panel's database (read-only).")
@click.option("--from", "source", default=None, help="Legacy database URL (default MHC_LEGACY_DATABASE_URL).")
@click.option("--time-zone", default=None, help="Zone of its zone-less times (default MHC_LEGACY_TIMEZONE).")
@click.option("--chunk-rows", type=int, default=10_000, show_default=True,
              help="Rows per landed chunk (one transaction each).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def command(source: str | None, time_zone: str | None, chunk_rows: int, no_progress: bool) -> int:
    """Import the legacy MHC Control Panel database (read-only), every known table from its high-water
    mark, with a progress bar per table and a summary; a second run adds nothing."""
    from mhc_pipeline.defs.legacy import client as legacy

    settings.prepare_env(check=False)
    source = source or settings.get("MHC_LEGACY_DATABASE_URL")
    if not source:
        print("error: give the legacy database with --from URL or MHC_LEGACY_DATABASE_URL", file=sys.stderr)
        return 2
    url = runtime.ensure_database()
    zone = time_zone or settings.get("MHC_LEGACY_TIMEZONE")
    print(f"importing {db.redact_url(source)} (read-only; zone-less times read as {zone}) ...", flush=True)
    try:
        with db.connection(url) as conn:
            overlap = timedelta(minutes=int(settings.get("MHC_LEGACY_OVERLAP_MINUTES")))
            results = legacy.import_legacy(conn, source, time_zone=zone, schema=settings.get("MHC_RAW_SCHEMA"),
                                           chunk_rows=chunk_rows, progress=not no_progress, overlap=overlap)
    except legacy.LegacyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in legacy.summary_lines(results):
        print(line)
    print("  the dbt models follow under `mhc dev`; or run `mhc build`")
    return 0
