"""Dagster resources shared by every source: the database. (Source resources live in their modules.)"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, TypeVar

import dagster as dg
import psycopg2.extensions

from mhc_pipeline import db, settings


class PostgresResource(dg.ConfigurableResource):
    """The pipeline's PostgreSQL. `url` is a PostgreSQL URL or `embedded` (the embedded server, started
    on demand). Configured from MHC_DATABASE_URL (see `setting`)."""

    url: str = "embedded"
    raw_schema: str = "raw"

    def resolved_url(self) -> str:
        if self.url == "embedded":
            return db.start_embedded(_data_dir() / "pgdata")
        return self.url

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        with db.connection(self.resolved_url()) as conn:
            yield conn


def _data_dir():
    return settings.data_dir()


def setting(name: str) -> Any:
    """A resource field's value for the setting `name`, read (never written) when the code location loads.

    - The variable is set (as every `mhc` command sets them all, before Dagster starts): `dg.EnvVar(name)`,
      resolved when a run starts; a secret is only ever read from the environment.
    - Unset, a setting or a credential in simulator mode: its default (the simulator's public fake
      credential), so `dagster dev` without `mhc` runs the demo world too.
    - Unset, a credential of a real source: `dg.EnvVar(name)` still, so the run that needs it fails naming it.
    """
    s = settings.BY_NAME[name]
    if os.environ.get(name) is not None:
        return dg.EnvVar(name)
    if s.kind in ("credential", "secret") and s.source:
        url = settings.get(f"MHC_{s.source.upper()}_URL")
        return s.sim_value if settings.is_simulated(url) else dg.EnvVar(name)
    return s.default_for(os.environ)


def int_setting(name: str) -> Any:
    """`setting(name)` for an integer field."""
    value = setting(name)
    return dg.EnvVar.int(name) if isinstance(value, dg.EnvVar) else int(value)


R = TypeVar("R", bound=dg.ConfigurableResource)
# the HTTP layer's own settings, shared by every HTTP source's resource
HTTP_SETTINGS = {"timeout": "MHC_HTTP_TIMEOUT", "retries": "MHC_HTTP_RETRIES"}


def from_settings(cls: type[R], **fields: str) -> R:
    """The resource `cls` with each given field read from its setting (`int_setting` for an int field)."""
    types = {name: f.annotation for name, f in cls.model_fields.items()}
    return cls(**{name: int_setting(s) if types[name] is int else setting(s) for name, s in fields.items()})


def postgres_from_env() -> PostgresResource:
    return from_settings(PostgresResource, url="MHC_DATABASE_URL", raw_schema="MHC_RAW_SCHEMA")
