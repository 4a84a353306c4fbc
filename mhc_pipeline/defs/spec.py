"""What a source tells the rest of the pipeline about itself: its `SourceSpec` (one per source folder, in
mhc_pipeline/defs/<source>/definitions.py), and how `mhc land` replays its saved answers (`Replay`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from mhc_pipeline.load import Batch, RawColumn


@dataclass(frozen=True)
class Replay:
    """How `mhc land` reads one source's saved answer: through the live path's own checks, into a batch
    with the identity the live fetch at that time would have had (`load.land` then makes the same file
    twice a no-op, and refuses a different one unless --replace)."""

    read: Callable[..., Batch]  # (path, fetched_at[, username=]) -> Batch; ValueError: one line, nothing landed
    username: bool = False  # takes --username: the answer may not name the person it was asked about
    before_land: Callable[[Any, Batch, str], None] | None = None  # (conn, batch, schema), e.g. Events' ids


@dataclass(frozen=True)
class SourceSpec:
    """One source, as the root definitions, the CLI and dbt's landing tables see it."""

    name: str
    raw_tables: tuple[str, ...]  # every raw landing table it writes (dbt reads them all: they must exist)
    # a raw table's own columns beside the payload (load.RawColumn), where it has some
    raw_columns: Mapping[str, tuple[RawColumn, ...]] = field(default_factory=dict)
    # landing asset -> seconds between its landings in the every-minute cycle (cycle_every_minute)
    cadence: Mapping[dg.AssetKey, int] = field(default_factory=dict)
    # landing asset -> the op config it gets when the cycle lands it (a daily-partitioned asset is run
    # for the day of the cycle's tick)
    cycle_config: Mapping[dg.AssetKey, dict] = field(default_factory=dict)
    # landing assets `full_cycle` leaves out (backfills, imports on demand)
    on_demand: tuple[dg.AssetKey, ...] = ()
    # the landing asset with which the marts tagged every_5_minutes are rebuilt (one source has it)
    marts_with: dg.AssetKey | None = None
    # `mhc land NAME FILE`: NAME -> how the saved answer is read
    replay: Mapping[str, Replay] = field(default_factory=dict)
