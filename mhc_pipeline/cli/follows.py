"""`mhc import-follows`: land a saved page or export file of the owner's following / followers list."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mhc_pipeline import db, runtime, settings
from mhc_pipeline.utc import parse_time


@click.command("import-follows", short_help="Land a saved page or export file of a follow list.")
@click.argument("direction", type=click.Choice(["following", "followers"]))
@click.argument("file")
@click.option("--fetched-at", default=None,
              help="When the list was saved, ISO-8601 (default: the file's time).")
@click.option("--complete", is_flag=True,
              help="The file is the whole list (only needed for an export without a reported total).")
def command(direction: str, file: str, fetched_at: str | None, complete: bool) -> int:
    """Land FILE, a saved page or export file of the owner's following list (whom the owner follows) or
    followers list (who follows the owner), through the same validation and loader as the live fetch
    (no cookies needed). Importing the same file again changes nothing; an incomplete list is landed and
    reported, and changes nothing downstream."""
    from mhc_pipeline.defs.follows import client as follows

    settings.prepare_env(check=False)
    path = Path(file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    at = parse_time(fetched_at) if fetched_at else None
    url = runtime.ensure_database()
    with db.connection(url) as conn:
        capture, landed = follows.import_file(conn, path, direction, fetched_at=at, asserted_complete=complete,
                                              schema=settings.get("MHC_RAW_SCHEMA"))
    state = "already imported, nothing changed" if landed.already_landed else "landed"
    print(f"{direction} list from {path.name}: {state} (batch {landed.batch_id}): {capture.verdict()}; "
          f"{landed.quarantined} quarantined")
    if not capture.complete:
        print("  an incomplete list changes nothing: no follow or unfollow is recorded from it", file=sys.stderr)
    for reject in capture.rejects[:5]:
        print(f"  quarantined: {reject.key}: {reject.reason}")
    print("  the dbt models follow under `mhc dev`; or run `mhc build`")
    return 0
