"""One module per source.

`RAW_TABLES`: every raw landing table (dbt reads them all, so they exist before the first dbt build).
`REPLAYABLE`: a name as `mhc land NAME FILE` takes it -> how that source reads a saved answer.
"""

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional

from mhc_pipeline.load import Batch
from mhc_pipeline.sources import affiliate, cbhours, events, follows, legacy, statbate, stats

RAW_TABLES = [affiliate.TABLE, cbhours.LIVE_TABLE, cbhours.ACTIVITY_TABLE, events.TABLE, stats.TABLE,
              *statbate.TABLES, follows.TABLE, *legacy.RAW_TABLES]


@dataclass(frozen=True)
class Replay:
    """How `mhc land` reads one source's saved answer: through the live path's own checks, into a batch
    with the identity the live fetch at that time would have had (`load.land` then makes the same file
    twice a no-op, and refuses a different one unless --replace)."""

    read: Callable[..., Batch]  # (path, fetched_at[, username=]) -> Batch; ValueError: one line, nothing landed
    username: bool = False  # takes --username: the answer may not name the person it was asked about
    before_land: Optional[Callable[[Any, Batch, str], None]] = None  # (conn, batch, schema), e.g. Events' ids


REPLAYABLE: dict[str, Replay] = {  # what to save for each: `mhc land --help` (cli.LAND_HELP) and the README
    "affiliate": Replay(affiliate.batch_from_file),
    "cbhours-live": Replay(cbhours.live_batch_from_file),
    "cbhours-activity": Replay(cbhours.activity_batch_from_file, username=True),
    "events": Replay(events.batch_from_file, before_land=events.before_replay),
    "stats": Replay(stats.batch_from_file),
    "statbate-model-info": Replay(partial(statbate.info_batch_from_file, kind="model"), username=True),
    "statbate-member-info": Replay(partial(statbate.info_batch_from_file, kind="member"), username=True),
    "statbate-tips": Replay(statbate.tips_batch_from_file, username=True),
}
