"""One folder per source ("one source, one room"): mhc_pipeline/defs/<source>/ holds

- `settings.py`: the source's rows of the settings table (a leaf: settings.SETTINGS gathers them);
- `client.py` (and its parts): the source's API client, its landing assets and their checks;
- `definitions.py`: its `SPEC` (name, raw tables, cadence, replay) and `defs()`, the source's
  `dg.Definitions` (assets, jobs, schedules, resources), which the root `mhc_pipeline.definitions` merges.

A source is found by its folder: adding one is adding a folder, with no list to edit.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path


def source_names() -> list[str]:
    """Every source folder under mhc_pipeline/defs/, by name (sorted: the same order everywhere)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.ispkg)
