"""`mhc land`: land a saved API answer exactly as a live fetch at --fetched-at would have landed it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mhc_pipeline import db, runtime, settings
from mhc_pipeline.utc import parse_time

# what to save per source (mhc_pipeline.sources.REPLAYABLE); the README says the same
LAND_HELP = """\
Land a saved API answer exactly as a live fetch at --fetched-at would have landed it: the same checks,
quarantine and raw table. The same file at the same time twice is once; a different file at a held time
is refused unless --replace. Save the answer as the API sent it:

\b
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


@click.command("land",
               help=LAND_HELP + "\nSOURCE is one of the sources above; FILE is the answer as the API sent it "
                                "(JSON, UTF-8).",
               short_help="Land a saved API response as a live fetch would.")
@click.argument("source")
@click.argument("file")
@click.option("--fetched-at", required=True, help="ISO-8601 time of the original fetch (UTC if no offset).")
@click.option("--replace", is_flag=True,
              help="Replace a different batch already landed for this source and time.")
@click.option("--username", default=None,
              help="The person the answer was asked about, when it does not name them (cbhours-activity "
                   "error answers, StatBate 404 bodies).")
def command(source: str, file: str, fetched_at: str, replace: bool, username: str | None) -> int:
    """Land FILE, a saved answer of SOURCE, as a live fetch at `fetched_at` would have (help: LAND_HELP)."""
    from mhc_pipeline import load
    from mhc_pipeline.sources import REPLAYABLE

    settings.prepare_env(check=False)
    if source not in REPLAYABLE:
        print(f"unknown source {source!r}; one of: {', '.join(REPLAYABLE)}", file=sys.stderr)
        return 2
    replay = REPLAYABLE[source]
    if username and not replay.username:
        print(f"error: {source} answers name their person; --username is only for "
              f"{', '.join(n for n, r in REPLAYABLE.items() if r.username)}. Nothing was landed.", file=sys.stderr)
        return 2
    try:
        at = parse_time(fetched_at)
    except ValueError:
        print(f"error: --fetched-at {fetched_at!r} is not a time: give it in ISO-8601, e.g. "
              "2026-11-20T17:55:00Z (UTC when it has no offset)", file=sys.stderr)
        return 2
    try:
        extra = {"username": username} if replay.username else {}
        batch = replay.read(Path(file), at, **extra)
    except ValueError as exc:  # one line naming what is wrong with the file and the fix; nothing landed
        print(f"error: {exc}. Nothing was landed.", file=sys.stderr)
        return 2
    url = runtime.ensure_database()
    schema = settings.get("MHC_RAW_SCHEMA")
    with db.connection(url) as conn:
        if replay.before_land is not None:
            load.ensure_raw_table(conn, batch.table, schema)
            replay.before_land(conn, batch, schema)
            if not batch.records and not batch.rejects:  # as live: an answer with nothing new lands nothing
                held = batch.meta.get("already_landed", 0)
                print(f"{source} {at.isoformat()}: nothing to land, nothing changed"
                      + (f" ({held} already in raw.{batch.table}, by id)" if held else " (no events in it)"))
                return 0
        landed = load.land(conn, batch, schema=schema, replace=replace)
    identity = "these event ids" if batch.key else "this source and time"
    if landed.already_landed and landed.differs is not False:
        held = (f"a different batch of {landed.held_rows} rows" if landed.differs
                else f"a batch of {landed.held_rows} rows (landed before batches kept a digest of their content)")
        print(f"error: {source} {at.isoformat()}: {held} is already landed for {identity} "
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
    print(f"{source} {at.isoformat()}: {state}: {landed.rows} rows into raw.{batch.table}, "
          f"{landed.quarantined} quarantined{''.join(', ' + e for e in extras)} (batch {landed.batch_id})")
    for reject in batch.rejects[:5]:
        print(f"  quarantined: {reject.key}: {reject.reason}")
    if landed.replaced:
        print("  the history tables keep what the replaced batch added: run `mhc build --full-refresh` if this "
              "file dropped rows the replaced one had")
    return 0
