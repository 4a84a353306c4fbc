"""`mhc dev`: the Dagster UI and daemon on the same database, with the simulator (mhc_pipeline.devserver)."""

from __future__ import annotations

import click


@click.command("dev", short_help="dagster dev on the same database, with the simulator.")
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the Dagster UI listens on.")
def command(port: int, host: str) -> int:
    """`dagster dev` (the UI, the daemon, every schedule and sensor) on the pipeline's database, with the
    simulator when a source points at it. Ctrl-C or SIGTERM stop it and everything it started."""
    from mhc_pipeline import devserver

    return devserver.serve(host, port)
