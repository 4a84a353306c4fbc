"""What every landing run records in Dagster, in one place.

An operator reads a landing run at a glance in the UI: rows landed, rows quarantined with the first
reasons, pages fetched, retries and duration. Each source adds its own figures (online models, replayed
events, list completeness...) next to these; `landing()` makes sure the common ones are always there,
under the same names, and that no reason carries a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

from mhc_pipeline.http import redact

OWNERS = ["team:mhc-pipeline"]


def landing_asset(**kwargs: Any):
    """`dg.asset` for a landing asset: Python landing into PostgreSQL, owned by the team."""
    return dg.asset(kinds={"python", "postgres"}, owners=OWNERS, **kwargs)


CORE = ("rows_landed", "rows_quarantined", "first_quarantine_reasons", "pages", "retries", "seconds")
FIRST_REASONS = 5


def reasons_md(reasons: Iterable[str]) -> dg.MetadataValue:
    first = [redact(str(r)) for r, _ in zip(reasons, range(FIRST_REASONS))]
    return dg.MetadataValue.md("\n".join(f"- {r}" for r in first) or "none")


def landing(meta: dict[str, Any], reasons: Iterable[str] = ()) -> dict[str, Any]:
    """`meta` with every CORE key filled: pages default to the requests made, retries and counts to 0."""
    out = dict(meta)
    out.setdefault("rows_landed", 0)
    out.setdefault("rows_quarantined", 0)
    if "first_quarantine_reasons" not in out:
        out["first_quarantine_reasons"] = reasons_md(reasons)
    out.setdefault("pages", out.get("requests", 0))
    out.setdefault("retries", 0)
    out.setdefault("seconds", 0.0)
    return out
