"""Dagster resources shared by every source: the database. (Source resources live in their modules.)"""

from __future__ import annotations

import contextlib
from typing import Iterator

import dagster as dg
import psycopg2.extensions

from mhc_pipeline import db


class PostgresResource(dg.ConfigurableResource):
    """The pipeline's PostgreSQL. `url` is a PostgreSQL URL or `embedded` (the embedded server, started
    on demand). Configured from MHC_DATABASE_URL through `EnvVar`."""

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
    from mhc_pipeline import settings

    return settings.data_dir()


def postgres_from_env() -> PostgresResource:
    return PostgresResource(url=dg.EnvVar("MHC_DATABASE_URL"), raw_schema=dg.EnvVar("MHC_RAW_SCHEMA"))
