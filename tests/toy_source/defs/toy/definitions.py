"""The toy source's room: its spec and one landing asset, which lands a fixed answer (a toy has no API).

tests/test_toy_source.py copies this folder to mhc_pipeline/defs/toy/ of a copy of the package; nothing
else in the package changes, and the root definitions find it by its folder."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from mhc_pipeline import load
from mhc_pipeline.defs.spec import SourceSpec
from mhc_pipeline.resources import PostgresResource

TABLE = "toy_rooms"
ASSET_KEY = dg.AssetKey(["raw", TABLE])
FETCHED_AT = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)

SPEC = SourceSpec(name="toy", raw_tables=(TABLE,), on_demand=(ASSET_KEY,))


@dg.asset(key=ASSET_KEY, group_name="landing_toy", kinds={"python", "postgres"})
def toy_rooms(postgres: PostgresResource) -> dg.MaterializeResult:
    """One toy landing: `ToyFan` with 1,234 fans."""
    batch = load.Batch(source="toy", table=TABLE, fetched_at=FETCHED_AT,
                       records=[{"username": "ToyFan", "fans": "1234"}], requests=["toy:/rooms"])
    with postgres.connect() as conn:
        load.land(conn, batch, schema=postgres.raw_schema)
    return dg.MaterializeResult(metadata={"rows": 1})


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[toy_rooms])
