"""The legacy tables the import reads: what each is called (then and now), where it lands, its high-water
mark, how its columns are found in the legacy database and the SQL that reads it (see client.py's docstring
for why the marks are what they are). The legacy database is only ever opened read-only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg
import psycopg2
import psycopg2.extensions

from mhc_pipeline.http import redact, url_secrets


@dataclass(frozen=True)
class Table:
    """One legacy table: the names it may have (newest first), where it lands, its high-water mark."""

    name: str  # logical name; lands in raw.legacy_<name>
    candidates: tuple[str, ...]  # actual legacy names, first existing wins
    # the time columns a write of the row (insert or update in place) moves: its mark is the newest of
    # them (as a UTC instant); a table with none of them is read whole on every import
    marks: tuple[str, ...] = ()
    # zone-less columns the original wrote in another zone than the legacy one (MHC_LEGACY_TIMEZONE)
    zones: tuple[tuple[str, str], ...] = ()
    person: bool = True  # has a person_id that must exist in the legacy persons table
    problem: Callable[[set[str]], str | None] | None = None  # SQL giving a reason the row cannot be used

    @property
    def raw_table(self) -> str:
        return f"legacy_{self.name}"


def _not_object(column: str) -> Callable[[set[str]], str | None]:
    def sql(columns: set[str]) -> str | None:
        if column not in columns:
            return None
        return (f"case when jsonb_typeof(t.{column}::jsonb) is distinct from 'object' then "
                f"'{column} is ' || coalesce('a JSON ' || jsonb_typeof(t.{column}::jsonb), 'null') "
                f"|| ', expected a JSON object' end")
    return sql


def _persons_problem(columns: set[str]) -> str | None:
    """Why a legacy persons row cannot be used: a blank username, or another platform than Chaturbate."""
    platform = ("when lower(btrim(coalesce(t.platform, 'chaturbate'))) <> 'chaturbate' then 'platform ' || "
                "quote_literal(t.platform) || ' is not Chaturbate: only Chaturbate persons are imported' "
                if "platform" in columns else "")
    return f"case when btrim(coalesce(t.username, '')) = '' then 'username is empty' {platform}end"


# In landing order: persons first (the others are mapped through it). The marks follow what the original
# writes (original-system.md §1, §2; its services and migrations): updated_at is moved by a trigger on
# every update of persons and profiles; the Affiliate row of a running broadcast moves observed_at; the
# latest StatBate row of a person moves captured_at (created_at stays); the other tables are appended
# to (their in-place upserts move no time: see the module docstring).
TABLES: tuple[Table, ...] = (
    Table("persons", ("persons",), marks=("updated_at", "last_seen_at", "created_at"), person=False,
          problem=_persons_problem),
    Table("affiliate", ("affiliate_api_polling", "affiliate_api_snapshots", "broadcast_sessions"),
          marks=("observed_at", "created_at")),
    Table("cbhours_live_stats", ("cbhours_live_stats",), marks=("checked_at", "created_at")),
    # the CBHours string as it came, asked for in UTC (tzo=0); created_at is the server's clock
    Table("cbhours_activity", ("cbhours_activity",), marks=("created_at", "timestamp"),
          zones=(("timestamp", "UTC"),)),
    Table("statbate", ("statbate_api_polling", "snapshots"), marks=("captured_at", "created_at"),
          problem=_not_object("raw_payload")),
    Table("event_logs", ("event_logs",), marks=("created_at", "timestamp"), person=False,
          problem=_not_object("raw_event")),
    Table("interactions", ("interactions",), marks=("created_at", "timestamp")),
    Table("profiles", ("profiles",), marks=("updated_at", "scraped_at", "created_at")),
    Table("follow_history", ("follow_history",), marks=("created_at",)),
    Table("follower_count_history", ("follower_count_history",), marks=("created_at", "recorded_at")),
)
BY_NAME = {t.name: t for t in TABLES}
RAW_TABLES = [t.raw_table for t in TABLES]
KEYS = [dg.AssetKey(["raw", t]) for t in RAW_TABLES]
CHUNK_ROWS = 10_000
# How far behind its mark each import reads a table again (the module docstring says why): a late commit
# is seconds to minutes behind, the DST repeat up to an hour; two hours cover both with room to spare.
# Rows read again that are held unchanged are skipped, so a wider window costs reading, never a double.
OVERLAP = timedelta(hours=2)
MARK_VERSION = 2  # cursor format: {"v", "table", "mark": [columns], "at": the mark (UTC text)}
_TIME_TYPES = {"timestamp", "timestamptz"}


def cursor_name(table: Table) -> str:
    return f"legacy:{table.name}"


# ---------------------------------------------------------------------------------------------------
def connect_legacy(url: str) -> psycopg2.extensions.connection:
    """A read-only session on the legacy database (every transaction read-only; times shown in UTC)."""
    try:
        conn = psycopg2.connect(url, options="-c default_transaction_read_only=on -c timezone=UTC",
                                application_name="mhc import-legacy (read-only)")
    except psycopg2.Error as exc:  # libpq may echo the DSN: never the password
        raise LegacyError(redact(f"cannot connect to the legacy database {url}: {str(exc).strip()}",
                                 *url_secrets(url))) from None
    conn.set_session(readonly=True)
    return conn


class LegacyError(RuntimeError):
    """The legacy database could not be read."""


@dataclass
class Columns:
    actual: str  # the table's actual legacy name
    types: dict[str, str]  # column -> udt name (timestamp, timestamptz, int4, uuid, ...)


def detect(legacy) -> dict[str, Columns]:
    """Which of the known tables exist in the legacy database (public schema), under which name."""
    with legacy.cursor() as cur:
        cur.execute("""select table_name, column_name, udt_name from information_schema.columns
                        where table_schema = current_schema() order by table_name, ordinal_position""")
        found: dict[str, dict[str, str]] = {}
        for table, column, udt in cur.fetchall():
            found.setdefault(table, {})[column] = udt
    legacy.rollback()
    out = {}
    for table in TABLES:
        for name in table.candidates:
            if name in found and "id" in found[name]:
                out[table.name] = Columns(name, found[name])
                break
    return out


class Unusable(str):
    """A legacy person whose rows cannot be used (in persons_map): the value is why."""


def persons_map(legacy, columns: Columns) -> dict[str, str]:
    """legacy person id (text) -> lower-cased username (legacy usernames are stored lower-cased), or
    `Unusable(reason)` for a person with a blank username or of another platform than Chaturbate (the
    original's persons are keyed on (username, platform): a Stripchat namesake is another person)."""
    platform = "lower(btrim(coalesce(platform, 'chaturbate')))" if "platform" in columns.types else "'chaturbate'"
    with legacy.cursor() as cur:
        cur.execute(f"select id::text, lower(btrim(coalesce(username, ''))), {platform} from {columns.actual}")
        rows = cur.fetchall()
    legacy.rollback()
    out: dict[str, str] = {}
    for person_id, username, on in rows:
        if not username:
            out[person_id] = Unusable("has a blank username")
        elif on != "chaturbate":
            out[person_id] = Unusable(f"{username!r} is on platform {on!r}: only Chaturbate persons are imported")
        else:
            out[person_id] = username
    return out


def mark_columns(table: Table, columns: Columns) -> tuple[str, ...]:
    return tuple(c for c in table.marks if columns.types.get(c) in _TIME_TYPES)


def zones_of(table: Table, columns: Columns, time_zone: str) -> dict[str, str]:
    """The zone each zone-less column of the table was written in."""
    special = dict(table.zones)
    return {col: special.get(col, time_zone) for col, udt in columns.types.items() if udt == "timestamp"}


# The columns of a row read by select_sql, in order
MARK, FRESH, ROW_ID, PERSON_ID, EVENT_ID, PROBLEM, UTC_JSON, DIGEST, ROW_JSON = range(9)


def select_sql(table: Table, columns: Columns, marks: tuple[str, ...], time_zone: str, *, since: bool,
                check: str) -> tuple[str, dict]:
    """The query of one table in the order of its mark, and its parameters (`at` and `overlap` still to
    set). `since`: only rows whose mark is at least `at` minus `overlap`. `check`: which rows may be
    held already ("none", "all", or "mark": those whose mark is not past `at`): their FRESH column is
    false."""
    types = columns.types
    zones = zones_of(table, columns, time_zone)
    params: dict[str, Any] = {}
    for zone in sorted(set(zones.values())):
        params[f"tz{len(params)}"] = zone
    param_of = {zone: name for name, zone in params.items()}

    def instant(col: str) -> str:
        if types[col] == "timestamp":
            return f"(t.{_q(col)} at time zone %({param_of[zones[col]]})s)"
        return f"t.{_q(col)}"

    # a timestamptz in JSON: ISO-8601 in the session's zone (UTC)
    utc_pairs = [f"'{col}', {instant(col)}" for col, udt in types.items() if udt in _TIME_TYPES]
    utc_json = f"json_build_object({', '.join(utc_pairs)})::text" if utc_pairs else "'{}'"
    person = "t.person_id::text" if table.person and "person_id" in types else "null::text"
    problem = table.problem(set(types)) if table.problem else None
    joins = ""
    event_id = "null::text"
    if table.name == "interactions":
        parts = []
        if "event_log_id" in types:
            joins = "left join event_logs e on e.id = t.event_log_id"
            parts += ["nullif(btrim(e.cb_event_id), '')", "nullif(btrim(e.raw_event->>'id'), '')"]
        if "metadata" in types:
            parts += ["nullif(btrim(t.metadata->>'cb_event_id'), '')", "nullif(btrim(t.metadata->>'id'), '')"]
        if parts:
            event_id = f"coalesce({', '.join(parts)})"
    # the newest of the columns a write moves (greatest ignores nulls; null when all are)
    mark = (f"greatest({', '.join(instant(c) for c in marks)})" if len(marks) > 1 else instant(marks[0])) \
        if marks else None
    fresh = {"none": "true", "all": "false"}.get(check) or f"coalesce({mark} > %(at)s::timestamptz, false)"
    where = f"{mark} >= %(at)s::timestamptz - %(overlap)s::interval" if since and mark else "true"
    order = f"{mark} nulls first, t.id" if mark else "t.id"
    # the row as it lands (row_to_json, then jsonb on our side) and, for a row that may be held, its
    # digest, computed the way the held rows' digest is: md5 of the jsonb text
    digest = f"case when {fresh} then null else md5(row_to_json(t)::jsonb::text) end"
    sql = (f"select {mark + '::text' if mark else 'null::text'}, {fresh}, t.id::text, {person}, {event_id}, "
           f"{problem or 'null::text'}, {utc_json}, {digest}, row_to_json(t)::text "
           f"from {columns.actual} t {joins} where {where} order by {order}")
    return sql, params


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
