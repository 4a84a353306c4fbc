"""`mhc simulate`: serve the source simulator on 127.0.0.1."""

from __future__ import annotations

import click

from mhc_pipeline import settings


@click.command("simulate", short_help="Serve the source simulator on 127.0.0.1.")
@click.option("--rooms", type=int, default=None,
              help="Rooms in the simulated world (default MHC_SIMULATOR_ROOMS).")
@click.option("--seed", type=int, default=None,
              help="Seed of the simulated world (default MHC_SIMULATOR_SEED).")
@click.option("--port", type=int, default=None, help="Port to serve on (default MHC_SIMULATOR_PORT).")
def command(rooms: int | None, seed: int | None, port: int | None) -> int:
    """Serve the source simulator (every API the pipeline reads, with a world that moves in time) on
    127.0.0.1 until Ctrl-C."""
    from mhc_pipeline.simulator import serve

    serve(rooms=rooms or int(settings.get("MHC_SIMULATOR_ROOMS")),
          seed=seed if seed is not None else int(settings.get("MHC_SIMULATOR_SEED")),
          port=port or int(settings.get("MHC_SIMULATOR_PORT")))
    return 0
