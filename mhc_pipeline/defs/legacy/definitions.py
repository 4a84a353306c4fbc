"""The legacy import's room: its spec, its on-demand job and its resource."""

from __future__ import annotations

import dagster as dg

from mhc_pipeline.defs.legacy import client
from mhc_pipeline.defs.spec import SourceSpec
from mhc_pipeline.scheduling import FOLLOWS

SPEC = SourceSpec(name="legacy", raw_tables=tuple(client.RAW_TABLES), on_demand=tuple(client.KEYS))

legacy_import = dg.define_asset_job(
    "legacy_import",
    selection=dg.AssetSelection.assets(*client.KEYS),
    description="Import the legacy MHC Control Panel database (MHC_LEGACY_DATABASE_URL, read-only) from each "
                f"table's high-water mark (less MHC_LEGACY_OVERLAP_MINUTES: rows held unchanged are skipped); "
                f"what `mhc import-legacy` does {FOLLOWS}.",
)


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[client.legacy_landing], jobs=[legacy_import],
                          resources={"legacy": client.resource_from_env()})
