"""The source registry: every folder under mhc_pipeline/defs/ is a source (found by its folder, no list).

`SOURCES`: each source's `definitions` module (its `SPEC` and `defs()`), by name.
`RAW_TABLES`: every raw landing table (dbt reads them all, so they exist before the first dbt build);
`RAW_COLUMNS`: a raw table -> its own columns beside the payload (`load.ensure_raw_table(..., columns)`).
`REPLAYABLE`: a name as `mhc land NAME FILE` takes it -> how that source reads a saved answer.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mhc_pipeline.defs import source_names
from mhc_pipeline.defs.spec import Replay, SourceSpec

SOURCES: dict[str, ModuleType] = {
    name: importlib.import_module(f"mhc_pipeline.defs.{name}.definitions") for name in source_names()}
SPECS: list[SourceSpec] = [module.SPEC for module in SOURCES.values()]

RAW_TABLES = [table for spec in SPECS for table in spec.raw_tables]
RAW_COLUMNS = {table: columns for spec in SPECS for table, columns in spec.raw_columns.items()}

REPLAYABLE: dict[str, Replay] = {  # what to save for each: `mhc land --help` (cli.LAND_HELP) and the README
    name: replay for spec in SPECS for name, replay in spec.replay.items()}
