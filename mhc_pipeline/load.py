"""The one loader into PostgreSQL: raw landing tables, written with COPY, idempotent, with quarantine.

Every source lands through `land()`:

- one raw table per landing asset (`raw.<table>`), one row per record: the whole payload as `jsonb`,
  the source, `fetched_at`, the batch id and the redacted request that delivered it;
- a batch is identified by a deterministic id (source, table, fetch time and an optional scope), and is
  written in one transaction together with its row in `raw.batches`: landing the same batch again
  changes nothing, and a crash mid-batch leaves nothing behind;
- records that fail validation go to `raw.quarantine` with their reason, in the same transaction, while
  the good records of the batch land;
- a response that could not be used at all (HTML, malformed JSON, wrong shape) is kept in
  `raw.quarantine` by `quarantine_response()`; the caller then fails its run.

Extra per-table columns (e.g. an Events cursor) are not the loader's business: callers that need to move
state in the same transaction pass `extra_sql`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg2.extensions

from mhc_pipeline.pgcopy import copy_quarantine, copy_rows, feed, payload

BATCH_NAMESPACE = uuid.UUID("0b6c2f52-5f0e-4c8f-9d0c-6d2f3b0a7e11")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


# ---------------------------------------------------------------------------------------------------
# Validation
@dataclass(frozen=True)
class FieldRule:
    types: tuple[type, ...]
    required: bool = False
    nullable: bool = True
    nonempty: bool = False  # for required strings: "" is a missing value
    item_type: type | None = None  # for lists


def validate(record: Any, schema: dict[str, FieldRule]) -> str | None:
    """None when `record` fits `schema`, else the reason it does not (one line, names the field)."""
    if not isinstance(record, dict):
        return f"record is a {type(record).__name__}, not an object"
    for name, rule in schema.items():
        if name not in record:
            if rule.required:
                return f"missing field '{name}'"
            continue
        value = record[name]
        if value is None:
            if rule.required and not rule.nullable:
                return f"field '{name}' is null"
            continue
        if isinstance(value, bool) and bool not in rule.types:
            return f"field '{name}' has type bool, expected {_names(rule.types)}"
        if not isinstance(value, rule.types):
            return f"field '{name}' has type {type(value).__name__} ({_short(value)}), expected {_names(rule.types)}"
        if rule.nonempty and isinstance(value, str) and not value.strip():
            return f"field '{name}' is empty"
        if rule.item_type is not None and isinstance(value, list):
            for item in value:
                if not isinstance(item, rule.item_type):
                    return f"field '{name}' has an item of type {type(item).__name__}"
    return None


def _names(types: tuple[type, ...]) -> str:
    return "/".join(t.__name__ for t in types)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------------------------------
@dataclass
class Reject:
    reason: str
    payload: Any = None  # the record, when it parsed
    body: str | None = None  # the raw text, when it did not
    key: str | None = None  # where in the batch (e.g. "page 3 row 17")


@dataclass(frozen=True)
class RawColumn:
    """A column of a raw table beside the payload: what the client knew when it asked (e.g. the username a
    CBHours activity request was for), landed as text. `backfill`: the SQL expression that fills it once, in
    the statement that adds it, for the rows landed before it existed."""

    name: str
    backfill: str | None = None


@dataclass
class Batch:
    source: str
    table: str
    fetched_at: datetime
    records: list[Any] = field(default_factory=list)  # good records (dicts)
    requests: list[str] = field(default_factory=list)  # redacted request per record (or one for all)
    rejects: list[Reject] = field(default_factory=list)
    scope: str = ""  # what distinguishes two batches of the same source and time (e.g. a partition)
    meta: dict[str, Any] = field(default_factory=dict)  # pages, duplicates, retries... kept in raw.batches
    # Instead of records/requests, a lazy stream of (record, request) pairs: consumed while the COPY runs,
    # so fetching and loading overlap. It may append to `rejects` and `meta` as it goes; if it raises,
    # nothing of the batch lands.
    stream: Iterable[tuple[Any, str]] | None = None

    def items(self) -> Iterable[tuple[Any, str]]:
        if self.stream is not None:
            return self.stream
        if not self.requests:
            return ((r, "") for r in self.records)
        if len(self.requests) == 1:
            return ((r, self.requests[0]) for r in self.records)
        return zip(self.records, self.requests)

    # What identifies the batch when it is not (source, table, fetched_at, scope): e.g. the range of
    # Events API ids it holds, so a replayed answer is the same batch whenever it was fetched.
    key: str | None = None
    # The raw table's own columns (beside the payload) and, per record, their values (not with `stream`)
    columns: tuple[RawColumn, ...] = ()
    values: list[tuple[str | None, ...]] = field(default_factory=list)

    def digest(self) -> str | None:
        """What the batch holds (its rows and its rejects), as one hash; None for a lazy stream (known
        only once it is consumed)."""
        if self.stream is not None:
            return None
        h = hashlib.sha256()
        for record, _ in self.items():
            feed(h, payload(record))
        return _digest(h, self.rejects)

    @property
    def batch_id(self) -> uuid.UUID:
        if self.key is not None:
            return uuid.uuid5(BATCH_NAMESPACE, f"{self.source}|{self.table}|key:{self.key}")
        return batch_id(self.source, self.table, self.fetched_at, self.scope)


def _digest(h: Any, rejects: Iterable[Reject]) -> str:
    for reject in rejects:
        feed(h, f"{reject.key}\0{reject.reason}".encode())
        feed(h, orjson.dumps(reject.payload, default=str) if reject.payload is not None
             else (reject.body or "").encode())
    return h.hexdigest()


def batch_id(source: str, table: str, fetched_at: datetime, scope: str = "") -> uuid.UUID:
    stamp = fetched_at.astimezone(UTC).isoformat(timespec="microseconds")
    return uuid.uuid5(BATCH_NAMESPACE, f"{source}|{table}|{stamp}|{scope}")


@dataclass
class Landed:
    batch_id: uuid.UUID
    table: str
    rows: int  # rows written by this call (0 when the batch was already there)
    quarantined: int
    already_landed: bool
    # already_landed only: the batch held differs from this one (None: cannot tell, e.g. a live stream or a
    # batch landed before content digests were kept), and the rows it holds
    differs: bool | None = False
    held_rows: int = 0
    replaced: bool = False  # a different batch with this identity was held and this one replaced it

    def as_metadata(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "rows_landed": self.rows,
            "rows_quarantined": self.quarantined,
            "already_landed": self.already_landed,
        }


# ---------------------------------------------------------------------------------------------------
_ENSURED: set[tuple[str, str, str, tuple[str, ...]]] = set()


def ensure_raw_table(conn: psycopg2.extensions.connection, table: str, schema: str = "raw",
                     columns: Iterable[RawColumn] = ()) -> None:
    """Create the raw schema, its bookkeeping tables and `schema.table` if missing, with its own `columns`
    (a column added to a table that has rows is back-filled once, by its `backfill` expression)."""
    _check_ident(table)
    _check_ident(schema)
    columns = tuple(columns)
    for column in columns:
        _check_ident(column.name)
    ensured = (conn.dsn, schema, table, tuple(c.name for c in columns))
    if ensured in _ENSURED:
        return
    with conn.cursor() as cur:
        # concurrent runs on a fresh database must not race on CREATE ... IF NOT EXISTS
        cur.execute("select pg_advisory_xact_lock(7245001)")
        cur.execute(
            f"""
            create schema if not exists {schema};
            create table if not exists {schema}.batches (
                batch_id     uuid primary key,
                source       text not null,
                raw_table    text not null,
                fetched_at   timestamptz not null,
                scope        text not null default '',
                rows         integer not null,
                quarantined  integer not null,
                meta         jsonb not null default '{{}}',
                landed_at    timestamptz not null default now(),
                landed_xid   xid8 default pg_current_xact_id()
            );
            -- the loader's transaction: dbt's incremental models read exactly the batches committed since their
            -- last build (pg_visible_in_snapshot, dbt_project/macros/incremental.sql); a ledger from before has
            -- none in its old rows
            do $$ begin
                if not exists (select from information_schema.columns where table_schema = '{schema}'
                               and table_name = 'batches' and column_name = 'landed_xid') then
                    alter table {schema}.batches add column landed_xid xid8;
                    alter table {schema}.batches alter column landed_xid set default pg_current_xact_id();
                end if;
            end $$;
            create index if not exists batches_table_fetched on {schema}.batches (raw_table, fetched_at);
            -- the dbt data tests read what the newest landings added: max(landed_at) of the ledger
            create index if not exists batches_landed_at on {schema}.batches (landed_at);
            create table if not exists {schema}.quarantine (
                id             bigserial primary key,
                batch_id       uuid not null,
                item           text not null,
                source         text not null,
                raw_table      text not null,
                fetched_at     timestamptz not null,
                request        text not null,
                reason         text not null,
                payload        jsonb,
                body           text,
                quarantined_at timestamptz not null default now(),
                unique (batch_id, item)
            );
            -- an importer that reads rows again looks up whether one is quarantined already
            create index if not exists quarantine_table_item on {schema}.quarantine (raw_table, item);
            create table if not exists {schema}.{table} (
                batch_id   uuid not null,
                row_no     integer not null,
                source     text not null,
                fetched_at timestamptz not null,
                request    text not null,
                payload    jsonb not null,
                landed_at  timestamptz not null default now(),
                primary key (batch_id, row_no)
            );
            create index if not exists {table}_landed_at on {schema}.{table} (landed_at);
            """
        )
        for column in columns:
            cur.execute("select 1 from information_schema.columns where table_schema = %s and table_name = %s "
                        "and column_name = %s", (schema, table, column.name))
            if cur.fetchone() is None:
                cur.execute(f"alter table {schema}.{table} add column {column.name} text")
                if column.backfill:
                    cur.execute(f"update {schema}.{table} set {column.name} = {column.backfill}")
    conn.commit()
    _ENSURED.add(ensured)


def ensure_raw_index(conn: psycopg2.extensions.connection, table: str, expression: str, name: str,
                     schema: str = "raw") -> None:
    """An index on a raw table (e.g. on `(payload->>'id')` to look up already-landed events)."""
    _check_ident(table)
    _check_ident(name)
    ensure_raw_table(conn, table, schema)
    with conn.cursor() as cur:
        cur.execute(f"create index if not exists {name} on {schema}.{table} ({expression})")
    conn.commit()


def land(
    conn: psycopg2.extensions.connection,
    batch: Batch,
    *,
    schema: str = "raw",
    extra_sql: Callable[[psycopg2.extensions.cursor], None] | None = None,
    replace: bool = False,
) -> Landed:
    """Land one batch atomically. A batch whose identity is already held is left as it is (and not
    consumed), unless it differs from the one held and `replace` is set, or the one held landed no row
    (everything in it was quarantined: it claimed nothing): then the held batch's rows, quarantined
    items and ledger row are deleted and this one lands in their place, in the same transaction."""
    ensure_raw_table(conn, batch.table, schema, batch.columns)
    conn.commit()
    bid = batch.batch_id
    fetched = batch.fetched_at.astimezone(UTC)
    replaced = False
    try:
        with conn.cursor() as cur:
            if not _claim(cur, schema, batch, bid, fetched):
                cur.execute(f"select rows, quarantined, meta ->> 'digest' from {schema}.batches where batch_id = %s",
                            (str(bid),))
                held_rows, held_quarantined, held_digest = cur.fetchone()
                new_digest = batch.digest()
                differs = None if new_digest is None or held_digest is None else new_digest != held_digest
                unclaimed = held_rows == 0 and held_quarantined > 0
                if not differs or not (replace or unclaimed):
                    conn.rollback()
                    return Landed(bid, batch.table, 0, 0, already_landed=True, differs=differs, held_rows=held_rows)
                cur.execute(f"delete from {schema}.{batch.table} where batch_id = %s", (str(bid),))
                cur.execute(f"delete from {schema}.quarantine where batch_id = %s", (str(bid),))
                cur.execute(f"delete from {schema}.batches where batch_id = %s", (str(bid),))
                _claim(cur, schema, batch, bid, fetched)
                replaced = True
            nul_rows: list[tuple[int, bytes, str]] = []  # PostgreSQL jsonb cannot store NUL characters
            h = hashlib.sha256()
            rows = copy_rows(cur, schema, batch, bid, fetched, nul_rows, h)
            nul_rejects = [(Reject("a string contains a NUL character (\\u0000)", body=data.decode(),
                                   key=f"record {i}"), request) for i, data, request in nul_rows]
            rejects = [(r, "") for r in batch.rejects] + nul_rejects
            if rejects:
                copy_quarantine(cur, schema, batch, bid, fetched, rejects)
            meta = {**batch.meta, "digest": _digest(h, batch.rejects)}
            cur.execute(
                f"update {schema}.batches set rows = %s, quarantined = %s, meta = %s where batch_id = %s",
                (rows, len(rejects), orjson.dumps(meta, default=str).decode(), str(bid)),
            )
            if extra_sql is not None:
                extra_sql(cur)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return Landed(bid, batch.table, rows, len(rejects), already_landed=False, replaced=replaced)


def _claim(cur, schema: str, batch: Batch, bid: uuid.UUID, fetched: datetime) -> bool:
    """Insert the batch's ledger row; False when its identity is already held."""
    cur.execute(
        f"""insert into {schema}.batches (batch_id, source, raw_table, fetched_at, scope, rows, quarantined)
            values (%s, %s, %s, %s, %s, 0, 0)
            on conflict (batch_id) do nothing
            returning batch_id""",
        (str(bid), batch.source, batch.table, fetched, batch.scope),
    )
    return cur.fetchone() is not None


def read_saved_json(path) -> Any:
    """A saved API answer (for a replay), or ValueError with one line naming what is wrong and the fix."""
    from pathlib import Path

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a saved answer") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise ValueError(f"{path.name} is empty: save the API's answer into it and land it again")
    if data.startswith(b"\xef\xbb\xbf"):
        raise ValueError(f"{path.name} starts with a byte-order mark (BOM), which JSON does not allow: save it "
                         "as UTF-8 without BOM and land it again")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        kind = "not UTF-8 text (a binary file?)" if b"\0" in data[:4096] or _not_utf8(data) else f"not JSON ({exc})"
        raise ValueError(f"{path.name} is {kind}: land the API's JSON answer as it was saved") from None


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def quarantine_response(
    conn: psycopg2.extensions.connection,
    *,
    source: str,
    table: str,
    fetched_at: datetime,
    request: str,
    reason: str,
    body: str | None = None,
    payload: Any = None,
    item: str = "response",
    scope: str = "",
    schema: str = "raw",
) -> uuid.UUID:
    """Keep a response that could not be used (and why) in `raw.quarantine`. Idempotent per item."""
    ensure_raw_table(conn, table, schema)
    bid = batch_id(source, table, fetched_at, scope)
    reject = Reject(reason=reason, payload=payload, body=body, key=item)
    batch = Batch(source=source, table=table, fetched_at=fetched_at, requests=[request])
    with conn.cursor() as cur:
        copy_quarantine(cur, schema, batch, bid, fetched_at.astimezone(UTC), [(reject, request)])
    conn.commit()
    return bid


# ---------------------------------------------------------------------------------------------------
# Cursors: small pieces of state (e.g. the last Events API id) that must move in the same transaction
# as the rows they cover. `land(..., extra_sql=set_cursor(name, value))` does exactly that.
def _ensure_cursors(cur, schema: str = "raw") -> None:
    cur.execute("select pg_advisory_xact_lock(7245001)")
    cur.execute(
        f"create schema if not exists {schema};"
        f" create table if not exists {schema}.cursors"
        " (name text primary key, value text not null, updated_at timestamptz not null default now())"
    )


def get_cursor(conn: psycopg2.extensions.connection, name: str, schema: str = "raw") -> str | None:
    with conn.cursor() as cur:
        _ensure_cursors(cur, schema)
        cur.execute(f"select value from {schema}.cursors where name = %s", (name,))
        row = cur.fetchone()
    conn.commit()
    return row[0] if row else None


def set_cursor(name: str, value: str, schema: str = "raw") -> Callable[[psycopg2.extensions.cursor], None]:
    def apply(cur: psycopg2.extensions.cursor) -> None:
        _ensure_cursors(cur, schema)
        cur.execute(
            f"""insert into {schema}.cursors (name, value, updated_at) values (%s, %s, now())
                on conflict (name) do update set value = excluded.value, updated_at = excluded.updated_at""",
            (name, value),
        )

    return apply


def _check_ident(name: str) -> None:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
