"""The toy source's settings: none (its answer is fixed; a real source lists its URL and credentials here)."""

from mhc_pipeline.setting import Setting

SETTINGS: list[Setting] = []
