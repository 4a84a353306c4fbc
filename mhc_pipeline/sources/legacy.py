"""Migration: import the running MHC Control Panel's PostgreSQL database (original-system.md §2, §4).

`mhc import-legacy --from URL` and the Dagster job `legacy_import` (URL from MHC_LEGACY_DATABASE_URL)
read the legacy database **read-only** (the session sets `default_transaction_read_only`; nothing in
it is ever written) and land its rows through the one loader (`load.land`), one raw table per legacy
table (`raw.legacy_<table>`, source `legacy_<the table's actual name>`). The dbt staging models
`stg_legacy__*` fold them into the same history tables as live data, each row marked `origin =
'legacy'`.

What one row of `raw.legacy_<table>` holds (its payload):
- `row`: the whole legacy row, verbatim (`to_jsonb` of the row; `timestamp` columns as written,
  without a zone);
- `utc`: every time column of the row as a UTC instant (ISO-8601, `+00:00`): `timestamp without time
  zone` values are read as wall-clock time in the zone they were written in and converted;
  `timestamptz` values keep their instant. That zone is the legacy zone (MHC_LEGACY_TIMEZONE, default
  America/New_York: the containers, the database's included, ran with TZ=America/New_York, §4, so
  `now()` and the Node dates wrote New York wall-clock time), except for the columns a table lists in
  `Table.zones`: `cbhours_activity.timestamp` is the CBHours string as it came, asked for in UTC
  (`tzo=0`, §1.2, §2.2). The other imported tables hold no such column (checked against the
  original's code: their zone-less times are `now()` or Node dates);
- `time_zone`: the legacy zone, and `column_zones` (only where a table has one): the columns written
  in another zone, e.g. `{"timestamp": "UTC"}`; `legacy_table`: the table it came from;
- `username`: the lower-cased username of the row's `person_id` (legacy ids are mapped to ours
  through it: our person id is derived from the username);
- for `interactions`: `event_id`, the Chaturbate event id where one exists (the linked
  `event_logs.cb_event_id`, or the id inside its raw event, or one in the interaction's metadata):
  the key duplicates are collapsed by downstream.

Reading: one server-side cursor per table, in keyset order of a high-water mark (a time column that
moves when the row is written, e.g. `observed_at` for the Affiliate table whose rows were updated in
place, else the serial `id`), landed chunk by chunk; the mark moves in the same transaction as the
chunk it covers (`load.set_cursor`), so a second run adds nothing, a run after new legacy rows adds
exactly those, and a run killed midway loses and doubles nothing. Rows that point at a person missing
from the legacy `persons` table, or that cannot be parsed (e.g. a StatBate `raw_payload` that is not a
JSON object), are quarantined with their reason; the rest of the chunk lands.

Landed but not folded by dbt: StatBate rows of source manual (cb_stats rows fold into the Stats API
history `snapshots`), event_logs rows with no
interaction, follower_count_history. Not read: tables outside TABLES (the owner's own sessions, media,
DMs, CRM notes, job state, ...). The legacy `role` is evidence, not truth: persons folds it with what
the rows show (StatBate's rid/did count too); `v_person_current_state` is rebuilt by the merge.
"""


import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Optional

import dagster as dg
import orjson
import psycopg2
import psycopg2.extensions

from mhc_pipeline import db, load, metadata, utc
from mhc_pipeline.load import Batch, Reject
from mhc_pipeline.resources import PostgresResource


@dataclass(frozen=True)
class Table:
    """One legacy table: the names it may have (newest first), where it lands, its high-water mark."""

    name: str  # logical name; lands in raw.legacy_<name>
    candidates: tuple[str, ...]  # actual legacy names, first existing wins
    marks: tuple[str, ...] = ()  # high-water mark column candidates (first existing), then `id`
    # zone-less columns the original wrote in another zone than the legacy one (MHC_LEGACY_TIMEZONE)
    zones: tuple[tuple[str, str], ...] = ()
    person: bool = True  # has a person_id that must exist in the legacy persons table
    problem: Optional[Callable[[set[str]], Optional[str]]] = None  # SQL giving a reason the row cannot be used

    @property
    def raw_table(self) -> str:
        return f"legacy_{self.name}"


def _not_object(column: str) -> Callable[[set[str]], Optional[str]]:
    def sql(columns: set[str]) -> Optional[str]:
        if column not in columns:
            return None
        return (f"case when jsonb_typeof(t.{column}::jsonb) is distinct from 'object' then "
                f"'{column} is ' || coalesce('a JSON ' || jsonb_typeof(t.{column}::jsonb), 'null') "
                f"|| ', expected a JSON object' end")
    return sql


def _persons_problem(columns: set[str]) -> Optional[str]:
    """Why a legacy persons row cannot be used: a blank username, or another platform than Chaturbate."""
    platform = ("when lower(btrim(coalesce(t.platform, 'chaturbate'))) <> 'chaturbate' then 'platform ' || "
                "quote_literal(t.platform) || ' is not Chaturbate: only Chaturbate persons are imported' "
                if "platform" in columns else "")
    return f"case when btrim(coalesce(t.username, '')) = '' then 'username is empty' {platform}end"


# In landing order: persons first (the others are mapped through it).
TABLES: tuple[Table, ...] = (
    Table("persons", ("persons",), marks=("updated_at", "last_seen_at"), person=False,
          problem=_persons_problem),
    Table("affiliate", ("affiliate_api_polling", "affiliate_api_snapshots", "broadcast_sessions"),
          marks=("observed_at",)),
    Table("cbhours_live_stats", ("cbhours_live_stats",)),
    # the CBHours string as it came, asked for in UTC (tzo=0); created_at is the server's clock
    Table("cbhours_activity", ("cbhours_activity",), zones=(("timestamp", "UTC"),)),
    Table("statbate", ("statbate_api_polling", "snapshots"), marks=("created_at", "captured_at"),
          problem=_not_object("raw_payload")),
    Table("event_logs", ("event_logs",), marks=("created_at", "timestamp"), person=False,
          problem=_not_object("raw_event")),
    Table("interactions", ("interactions",), marks=("created_at", "timestamp")),
    Table("profiles", ("profiles",), marks=("updated_at", "scraped_at")),
    Table("follow_history", ("follow_history",), marks=("created_at",)),
    Table("follower_count_history", ("follower_count_history",), marks=("created_at", "recorded_at")),
)
BY_NAME = {t.name: t for t in TABLES}
RAW_TABLES = [t.raw_table for t in TABLES]
KEYS = [dg.AssetKey(["raw", t]) for t in RAW_TABLES]
CHUNK_ROWS = 10_000
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
        raise LegacyError(f"cannot connect to the legacy database {db.redact_url(url)}: "
                          f"{_redact(str(exc).strip(), url)}") from None
    conn.set_session(readonly=True)
    return conn


class LegacyError(RuntimeError):
    """The legacy database could not be read."""


def _redact(text: str, url: str) -> str:
    from urllib.parse import unquote, urlsplit

    password = urlsplit(url).password
    return text.replace(unquote(password), "***").replace(password, "***") if password else text


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


def _mark_column(table: Table, columns: Columns) -> Optional[str]:
    return next((c for c in table.marks if c in columns.types), None)


def _zones(table: Table, columns: Columns, time_zone: str) -> dict[str, str]:
    """The zone each zone-less column of the table was written in."""
    special = dict(table.zones)
    return {col: special.get(col, time_zone) for col, udt in columns.types.items() if udt == "timestamp"}


def _select_sql(table: Table, columns: Columns, mark: Optional[str], held: Optional[dict],
                time_zone: str = "America/New_York") -> tuple[str, dict]:
    """The keyset query of one table from its high-water mark, and its parameters (`at`, `id` still to set)."""
    types = columns.types
    zones = _zones(table, columns, time_zone)
    params: dict[str, Any] = {}
    for zone in sorted(set(zones.values())):
        params[f"tz{len(params)}"] = zone
    param_of = {zone: name for name, zone in params.items()}
    utc_pairs = []
    for col, udt in types.items():
        if udt not in _TIME_TYPES:
            continue
        instant = f"(t.{_q(col)} at time zone %({param_of[zones[col]]})s)" if udt == "timestamp" else f"t.{_q(col)}"
        utc_pairs.append(f"'{col}', {instant}")  # a timestamptz in JSON: ISO-8601 in the session's zone (UTC)
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
    mark_expr = f"coalesce(t.{_q(mark)}, '-infinity')" if mark else None
    order = f"{mark_expr}, t.id" if mark else "t.id"
    where = "true"
    if held is not None:
        if mark:
            where = f"({mark_expr}, t.id) > (%(at)s::{types[mark]}, %(id)s::{types['id']})"
        else:
            where = f"t.id > %(id)s::{types['id']}"
    sql = (f"select {mark_expr + '::text' if mark else 'null::text'}, t.id::text, {person}, {event_id}, "
           f"{problem or 'null::text'}, {utc_json}, row_to_json(t)::text "
           f"from {columns.actual} t {joins} where {where} order by {order}")
    return sql, params


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class TableResult:
    table: str  # logical name
    actual: str = ""  # the legacy table's name ("" = not in the legacy database)
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0  # interactions collapsed downstream (same event id, or same type/person/content/second)
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return metadata.landing(
            {"legacy_table": self.actual or "(absent)", "rows_read": self.read, "rows_landed": self.landed,
             "rows_quarantined": self.quarantined, "duplicates_collapsed": self.duplicates,
             "seconds": round(self.seconds, 3)}, self.reasons)


def import_legacy(conn, legacy_url: str, *, time_zone: str = "America/New_York", schema: str = "raw",
                  chunk_rows: int = CHUNK_ROWS, tables: Optional[list[str]] = None, progress: bool = False,
                  fetched_at: Optional[datetime] = None,
                  on_chunk: Optional[Callable[[str, int], None]] = None) -> dict[str, TableResult]:
    """Import every known legacy table (or `tables`) from its high-water mark; returns a result per table."""
    fetched_at = fetched_at or utc.now()
    for raw in RAW_TABLES:
        load.ensure_raw_table(conn, raw, schema)
    legacy = connect_legacy(legacy_url)
    try:
        found = detect(legacy)
        people = persons_map(legacy, found["persons"]) if "persons" in found else {}
        results = {}
        for table in TABLES:
            if tables is not None and table.name not in tables:
                continue
            result = TableResult(table.name)
            results[table.name] = result
            if table.name not in found:
                continue
            started = time.monotonic()
            _import_table(conn, legacy, table, found[table.name], people, result, time_zone=time_zone,
                          schema=schema, chunk_rows=chunk_rows, progress=progress, fetched_at=fetched_at,
                          on_chunk=on_chunk)
            result.seconds = time.monotonic() - started
        return results
    finally:
        legacy.rollback()
        legacy.close()


def _import_table(conn, legacy, table: Table, columns: Columns, people: dict[str, str], result: TableResult, *,
                  time_zone: str, schema: str, chunk_rows: int, progress: bool, fetched_at: datetime,
                  on_chunk) -> None:
    """Land one table from its high-water mark, chunk by chunk: each chunk is one loader batch (one
    transaction) whose rows stream from the legacy cursor into the COPY, and whose transaction also
    moves the mark to its last row."""
    result.actual = columns.actual
    source = f"legacy_{columns.actual}"
    name = cursor_name(table)
    held_text = load.get_cursor(conn, name, schema)
    held = orjson.loads(held_text) if held_text else None
    if held is not None and held.get("table") != columns.actual:
        held = None  # renamed since: read it again (the history models' keys make the overlap harmless)
    mark = _mark_column(table, columns)
    sql, params = _select_sql(table, columns, mark, held, time_zone)
    params.update(at=(held or {}).get("at"), id=(held or {}).get("id"))
    bar = None
    if progress:
        from tqdm import tqdm

        with legacy.cursor() as cur:
            cur.execute(f"select count(*) from ({sql}) as pending", params)
            total = cur.fetchone()[0]
        bar = tqdm(total=total, unit="row", desc=f"legacy {columns.actual}", leave=True, mininterval=0.5)
    seen: set[Any] = set()
    head = b'{"legacy_table":' + orjson.dumps(columns.actual) + b',"time_zone":' + orjson.dumps(time_zone)
    column_zones = {c: z for c, z in _zones(table, columns, time_zone).items() if z != time_zone}
    if column_zones:
        head += b',"column_zones":' + orjson.dumps(column_zones)
    block = max(1, min(2_000, chunk_rows))
    run = fetched_at.isoformat()
    try:
        with legacy.cursor(name=f"mhc_legacy_{table.name}") as cur:
            cur.itersize = block
            cur.execute(sql, params)
            start = held
            while True:
                rows = cur.fetchmany(block)
                if not rows:
                    break
                state = {"last": rows[-1], "read": 0}
                batch = Batch(source=source, table=table.raw_table, fetched_at=fetched_at,
                              key=f"{columns.actual}:{run}:after:{orjson.dumps(start).decode()}",
                              meta={"legacy_table": columns.actual})

                def stream(rows=rows, batch=batch, state=state):
                    while True:
                        yield from _records(table, columns, rows, people, head, seen, result, batch)
                        state["last"] = rows[-1]
                        state["read"] += len(rows)
                        if bar is not None:
                            bar.update(len(rows))
                        if state["read"] >= chunk_rows:
                            return
                        rows = cur.fetchmany(min(block, chunk_rows - state["read"]))
                        if not rows:
                            return

                def move_mark(wcur, state=state):
                    last = state["last"]
                    value = {"table": columns.actual, "at": last[0], "id": last[1]}
                    state["value"] = value
                    load.set_cursor(name, orjson.dumps(value).decode(), schema)(wcur)

                batch.stream = stream()
                landed = load.land(conn, batch, schema=schema, extra_sql=move_mark)
                if landed.already_landed:  # cannot happen: a batch key holds the run's time
                    raise LegacyError(f"chunk {batch.key} of {columns.actual} was already landed")
                start = state["value"]
                result.read += state["read"]
                result.landed += landed.rows
                result.quarantined += landed.quarantined
                if on_chunk is not None:
                    on_chunk(table.name, result.read)
    finally:
        if bar is not None:
            bar.close()
        legacy.rollback()


def _records(table: Table, columns: Columns, rows: list[tuple], people: dict[str, str], head: bytes, seen: set,
             result: TableResult, batch: Batch) -> Iterator[tuple[bytes, str]]:
    """Rows of the legacy cursor as ready JSON records (bytes) for the loader; the others as rejects."""
    for mark, row_id, person_id, event_id, problem, utc_json, row_json in rows:
        key = f"{columns.actual} id {row_id}"
        if problem is None and table.person:
            if person_id is None:
                problem = "person_id is null"
            elif person_id not in people:
                problem = f"person_id {person_id} is not in the legacy persons table"
            elif isinstance(people[person_id], Unusable):
                problem = f"its legacy person {person_id} {people[person_id]}"
        if problem is not None:
            reason = f"{problem} ({key})"
            batch.rejects.append(Reject(reason, payload=orjson.loads(row_json), key=key))
            if len(result.reasons) < 5:
                result.reasons.append(reason)
            continue
        extra = b""
        if person_id is not None:
            extra += b',"username":' + orjson.dumps(people[person_id])
        if table.name == "interactions":
            extra += b',"event_id":' + orjson.dumps(event_id)
            row = orjson.loads(row_json)
            dedupe = event_id or (row.get("type"), person_id, row.get("content"), (row.get("timestamp") or "")[:19])
            if dedupe in seen:
                result.duplicates += 1
            seen.add(dedupe)
        yield head + extra + b',"utc":' + utc_json.encode() + b',"row":' + row_json.encode() + b"}", ""


def summary_lines(results: dict[str, TableResult]) -> list[str]:
    """The final table: rows read, landed, quarantined, duplicates collapsed, time."""
    head = f"{'table':<26} {'legacy name':<24} {'read':>9} {'landed':>9} {'quarant.':>9} {'dupl.':>7} {'sec':>8}"
    lines = [head, "-" * len(head)]
    for r in results.values():
        lines.append(f"{r.table:<26} {r.actual or '(absent)':<24} {r.read:>9} {r.landed:>9} {r.quarantined:>9} "
                     f"{r.duplicates:>7} {r.seconds:>8.2f}")
    tot = lambda attr: sum(getattr(r, attr) for r in results.values())  # noqa: E731
    lines.append(f"{'total':<26} {'':<24} {tot('read'):>9} {tot('landed'):>9} {tot('quarantined'):>9} "
                 f"{tot('duplicates'):>7} {tot('seconds'):>8.2f}")
    return lines


# ---------------------------------------------------------------------------------------------------
class LegacyResource(dg.ConfigurableResource):
    """The legacy MHC Control Panel database (read-only). `url` holds a password: it is redacted from
    every message; `time_zone` is the zone its `timestamp without time zone` columns were written in."""

    url: str
    time_zone: str = "America/New_York"
    chunk_rows: int = CHUNK_ROWS


def resource_from_env() -> LegacyResource:
    return LegacyResource(url=dg.EnvVar("MHC_LEGACY_DATABASE_URL"), time_zone=dg.EnvVar("MHC_LEGACY_TIMEZONE"))


@dg.multi_asset(
    name="legacy_landing",
    specs=[dg.AssetSpec(key, group_name="landing_legacy", kinds={"python", "postgres"}, owners=["team:mhc-pipeline"],
                        description=f"Rows of the legacy MHC Control Panel table `{t.name}` ({', '.join(t.candidates)}"
                                    f"), imported read-only: one row per legacy row in `raw.{t.raw_table}`.")
           for key, t in zip(KEYS, TABLES)],
    can_subset=False,
)
def legacy_landing(context: dg.AssetExecutionContext, postgres: PostgresResource, legacy: LegacyResource):
    if not legacy.url:
        raise dg.Failure(description="MHC_LEGACY_DATABASE_URL is not set: the URL of the legacy database")
    with postgres.connect() as conn:
        try:
            results = import_legacy(conn, legacy.url, time_zone=legacy.time_zone, schema=postgres.raw_schema,
                                    chunk_rows=legacy.chunk_rows)
        except (LegacyError, psycopg2.Error) as exc:
            raise dg.Failure(description=_redact(str(exc), legacy.url)) from None
    summary = "\n".join(summary_lines(results))
    context.log.info(f"legacy import from {db.redact_url(legacy.url)}:\n{summary}")
    for key, table in zip(KEYS, TABLES):
        meta = results[table.name].as_metadata()
        meta["summary"] = dg.MetadataValue.md("```\n" + summary + "\n```")
        yield dg.MaterializeResult(asset_key=key, metadata=meta)
