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

Reading: one server-side cursor per table, in the order of a high-water mark, landed chunk by chunk;
the mark moves in the same transaction as the chunk it covers (`load.set_cursor`). The mark of a row is
the newest of the time columns a write of it moves (`Table.marks`, as UTC instants), because the
original updates rows in place and the next import must read them again (original-system.md §1.5,
§2; its services and migrations 001/011): `updated_at` for persons and profiles (a trigger moves it on
every update), `observed_at` for the Affiliate row of a running broadcast, `captured_at` for the
StatBate row kept as "latest" (its `created_at` stays), `created_at` or the row's own time for the
tables the original appends to. Upserts that move no time are not seen (cbhours_activity and
follower_count_history values rewritten at the same segment or time, a DM tip note merged into an
interaction's metadata, event_logs session links): the history keeps the first fetch of a CBHours
segment anyway, and the rest is not used.

Overlap and digests: each run reads a table again from OVERLAP (MHC_LEGACY_OVERLAP_MINUTES, default
2 hours) behind its mark, because a row can commit after an import with a time below the mark that
import left (its time is when its transaction began, or a Node date taken before the write, and the
web and worker processes write at once), and because the zone-less New York clock repeats an hour
when DST ends (PostgreSQL reads a repeated time as standard time, its later instant: a row written
at the first 01:59 gets a mark an hour late, so rows written in the second 01:00-01:59 have marks
up to an hour below it). A row that may be held already
(its mark not past the held one) is looked up by its legacy id in `raw.legacy_<table>` and by its
key in `raw.quarantine` (index probes, one query per block of rows, before the chunk's COPY) and
skipped when one held there has the same digest: md5 of the row's jsonb text, computed by the legacy
server from `row_to_json` and by ours from the landed payload (a quarantined row keeps it verbatim
too). So a second run lands nothing (its re-read rows count as `unchanged`), a row updated in place
lands again as a new version (a new observation in history, at its new time: the history models' keys
decide), a row committed late lands once, and a run killed midway loses and doubles nothing: the
next run re-reads behind the last committed mark and lands what is missing. A cursor that is missing,
of an older format, of a table since renamed or of other mark columns makes the run read the table
whole, every row looked up the same way (a table whose raw table is empty is read without lookups).
Rows past the held mark need no look-up (every row landed so far had a mark at or below it, and a
row's mark is computed from the row, so one past it differs from every version held): they stream
from the legacy cursor into the COPY as before. Rows that point at a person missing from the legacy `persons`
table, or that cannot be parsed (e.g. a StatBate `raw_payload` that is not a JSON object), are
quarantined with their reason; the rest of the chunk lands.

Landed but not folded by dbt: StatBate rows of source manual (cb_stats rows fold into the Stats API
history `snapshots`), event_logs rows with no
interaction, follower_count_history. Not read: tables outside TABLES (the owner's own sessions, media,
DMs, CRM notes, job state, ...). The legacy `role` is evidence, not truth: persons folds it with what
the rows show (StatBate's rid/did count too); `v_person_current_state` is rebuilt by the merge.
"""


import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import orjson
import psycopg2

from mhc_pipeline import load, metadata, utc
from mhc_pipeline.defs.legacy.tables import (  # noqa: F401 (CHUNK_ROWS, RAW_TABLES: used through this module too)
    CHUNK_ROWS,
    FRESH,
    KEYS,
    MARK,
    MARK_VERSION,
    OVERLAP,
    RAW_TABLES,
    ROW_ID,
    TABLES,
    Columns,
    LegacyError,
    Table,
    Unusable,
    connect_legacy,
    cursor_name,
    detect,
    mark_columns,
    persons_map,
    select_sql,
    zones_of,
)
from mhc_pipeline.http import redact, url_secrets
from mhc_pipeline.load import Batch, Reject
from mhc_pipeline.resources import PostgresResource, from_settings


@dataclass
class TableResult:
    table: str  # logical name
    actual: str = ""  # the legacy table's name ("" = not in the legacy database)
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    unchanged: int = 0  # read again (behind the mark) and already held as they are: not landed again
    duplicates: int = 0  # interactions collapsed downstream (same event id, or same type/person/content/second)
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return metadata.landing(
            {"legacy_table": self.actual or "(absent)", "rows_read": self.read, "rows_landed": self.landed,
             "rows_quarantined": self.quarantined, "rows_unchanged": self.unchanged,
             "duplicates_collapsed": self.duplicates, "seconds": round(self.seconds, 3)}, self.reasons)


def import_legacy(conn, legacy_url: str, *, time_zone: str = "America/New_York", schema: str = "raw",
                  chunk_rows: int = CHUNK_ROWS, tables: list[str] | None = None, progress: bool = False,
                  fetched_at: datetime | None = None, overlap: timedelta = OVERLAP,
                  on_chunk: Callable[[str, int], None] | None = None) -> dict[str, TableResult]:
    """Import every known legacy table (or `tables`) from `overlap` behind its high-water mark; returns a
    result per table."""
    fetched_at = fetched_at or utc.now()
    for raw in RAW_TABLES:
        load.ensure_raw_table(conn, raw, schema)
        # held rows are looked up by their legacy id (rows re-read behind the mark)
        load.ensure_raw_index(conn, raw, "(payload -> 'row' ->> 'id')", f"{raw}_legacy_id", schema)
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
                          overlap=overlap, schema=schema, chunk_rows=chunk_rows, progress=progress,
                          fetched_at=fetched_at, on_chunk=on_chunk)
            result.seconds = time.monotonic() - started
        return results
    finally:
        legacy.rollback()
        legacy.close()


def _held_mark(text: str | None, actual: str, marks: tuple[str, ...]) -> str | None:
    """The mark a cursor holds. None for a cursor of an older format, of a table since renamed or of other
    mark columns: the table is then read whole, and the digests skip what is held."""
    held = orjson.loads(text) if text else {}
    usable = held.get("v") == MARK_VERSION and held.get("table") == actual and held.get("mark") == list(marks)
    return held.get("at") if usable else None


def _holds_any(conn, table: Table, schema: str) -> bool:
    """Whether any row of the table was landed or quarantined before."""
    with conn.cursor() as cur:
        cur.execute(f"select exists (select 1 from {schema}.{table.raw_table}) or exists (select 1 from "
                    f"{schema}.quarantine where raw_table = %s)", (table.raw_table,))
        out = cur.fetchone()[0]
    conn.commit()
    return out


def _key(actual: str, row_id: str) -> str:
    return f"{actual} id {row_id}"


def _held(conn, table: Table, columns: Columns, rows: list[tuple], schema: str) -> set[tuple[str, str]]:
    """Which of `rows` are held as they are: (legacy id, digest) of those in raw.legacy_<table>, (item,
    digest) of those in raw.quarantine. The digest is md5 of the row's jsonb text on both sides (the
    quarantine keeps the row verbatim too). Index probes: raw by legacy id, quarantine by item."""
    ids = [r[ROW_ID] for r in rows]
    with conn.cursor() as cur:
        cur.execute(f"""select payload -> 'row' ->> 'id', md5((payload -> 'row')::text)
                          from {schema}.{table.raw_table} where payload -> 'row' ->> 'id' = any(%(ids)s)
                        union all
                        select item, md5(payload::text) from {schema}.quarantine
                         where raw_table = %(raw)s and item = any(%(keys)s) and payload is not null""",
                    {"ids": ids, "raw": table.raw_table, "keys": [_key(columns.actual, i) for i in ids]})
        out = set(cur.fetchall())
    conn.commit()
    return out


def _advance(at: str | None, rows: list[tuple], check: str) -> str | None:
    """The mark after `rows` (read in mark order): the newest mark of a row past the held one (with
    check "all" no mark is held: every row's), never back."""
    for row in reversed(rows):
        if row[MARK] is not None and (row[FRESH] or check == "all"):
            return row[MARK]
    return at


def _import_table(conn, legacy, table: Table, columns: Columns, people: dict[str, str], result: TableResult, *,
                  time_zone: str, overlap: timedelta, schema: str, chunk_rows: int, progress: bool,
                  fetched_at: datetime, on_chunk) -> None:
    """Land one table from `overlap` behind its high-water mark, chunk by chunk: each chunk is one loader
    batch (one transaction) that also moves the mark to the newest mark it read. Rows that may be held
    already (re-read behind the mark, or every row when there is no usable mark but rows were landed)
    are looked up first and those held unchanged are skipped; the rows past the mark stream from the
    legacy cursor into the COPY."""
    result.actual = columns.actual
    source = f"legacy_{columns.actual}"
    name = cursor_name(table)
    marks = mark_columns(table, columns)
    at = _held_mark(load.get_cursor(conn, name, schema), columns.actual, marks)
    check = "mark" if at is not None else ("all" if _holds_any(conn, table, schema) else "none")
    sql, params = select_sql(table, columns, marks, time_zone, since=at is not None, check=check)
    params.update(at=at, overlap=overlap)
    bar = None
    if progress:
        from tqdm import tqdm

        with legacy.cursor() as cur:
            cur.execute(f"select count(*) from ({sql}) as pending", params)
            total = cur.fetchone()[0]
        bar = tqdm(total=total, unit="row", desc=f"legacy {columns.actual}", leave=True, mininterval=0.5)
    seen: set[Any] = set()
    head = b'{"legacy_table":' + orjson.dumps(columns.actual) + b',"time_zone":' + orjson.dumps(time_zone)
    column_zones = {c: z for c, z in zones_of(table, columns, time_zone).items() if z != time_zone}
    if column_zones:
        head += b',"column_zones":' + orjson.dumps(column_zones)
    block = max(1, min(2_000, chunk_rows))
    run = fetched_at.isoformat()
    pending: list[tuple] = []

    def peek(cur) -> tuple | None:
        nonlocal pending
        if not pending:
            pending = cur.fetchmany(block)
        return pending[0] if pending else None

    def take(cur, limit: int) -> list[tuple]:
        nonlocal pending
        peek(cur)
        rows, pending = pending[:limit], pending[limit:]
        if bar is not None:
            bar.update(len(rows))
        return rows

    def cursor_value(mark: str | None) -> str:
        return orjson.dumps({"v": MARK_VERSION, "table": columns.actual, "mark": list(marks), "at": mark}).decode()

    try:
        with legacy.cursor(name=f"mhc_legacy_{table.name}") as cur:
            cur.itersize = block
            cur.execute(sql, params)
            chunk = 0
            while peek(cur) is not None:
                chunk += 1
                batch = Batch(source=source, table=table.raw_table, fetched_at=fetched_at,
                              key=f"{columns.actual}:{run}:chunk:{chunk}", meta={"legacy_table": columns.actual})
                state = {"read": 0, "at": at}
                # 1. rows that may be held: looked up before the COPY (the lookup needs the connection)
                ready: list[tuple[bytes, str]] = []
                while state["read"] < chunk_rows and (row := peek(cur)) is not None and not row[FRESH]:
                    rows = take(cur, min(block, chunk_rows - state["read"]))
                    held = _held(conn, table, columns, rows, schema)
                    ready += _records(table, columns, rows, people, head, seen, result, batch, held)
                    state["read"] += len(rows)
                    state["at"] = _advance(state["at"], rows, check)
                more = state["read"] < chunk_rows and peek(cur) is not None
                if not ready and not batch.rejects and not more:
                    # all held as they are: nothing to land; the mark may still move (with check "all")
                    if state["at"] != at:
                        with conn.cursor() as wcur:
                            load.set_cursor(name, cursor_value(state["at"]), schema)(wcur)
                        conn.commit()
                    at = state["at"]
                    result.read += state["read"]
                    if on_chunk is not None:
                        on_chunk(table.name, result.read)
                    continue

                # 2. then the rows past the mark, streamed from the legacy cursor into the COPY
                def stream(ready=ready, batch=batch, state=state):
                    yield from ready
                    while state["read"] < chunk_rows and peek(cur) is not None:
                        rows = take(cur, min(block, chunk_rows - state["read"]))
                        yield from _records(table, columns, rows, people, head, seen, result, batch)
                        state["read"] += len(rows)
                        state["at"] = _advance(state["at"], rows, check)

                def move_mark(wcur, state=state):
                    load.set_cursor(name, cursor_value(state["at"]), schema)(wcur)

                batch.stream = stream()
                landed = load.land(conn, batch, schema=schema, extra_sql=move_mark)
                if landed.already_landed:  # cannot happen: a batch key holds the run's time
                    raise LegacyError(f"chunk {batch.key} of {columns.actual} was already landed")
                at = state["at"]
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
             result: TableResult, batch: Batch, held: set | None = None) -> Iterator[tuple[bytes, str]]:
    """Rows of the legacy cursor as ready JSON records (bytes) for the loader; the others as rejects; with
    `held`, rows held as they are are skipped."""
    for _, _, row_id, person_id, event_id, problem, utc_json, digest, row_json in rows:
        key = _key(columns.actual, row_id)
        if held is not None and ((row_id, digest) in held or (key, digest) in held):
            result.unchanged += 1
            continue
        if problem is None and table.person:
            if person_id is None:
                problem = "person_id is null"
            elif person_id not in people:
                problem = f"person_id {person_id} is not in the legacy persons table"
            elif isinstance(people[person_id], Unusable):
                problem = f"its legacy person {person_id} {people[person_id]}"
        if problem is not None:
            reason = f"{problem} ({key})"
            # verbatim, so its digest is the one the legacy side computes
            batch.rejects.append(Reject(reason, payload=orjson.Fragment(row_json), key=key))
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
    """The final table: rows read (= landed + quarantined + unchanged), landed, quarantined, unchanged
    (read again behind the mark, held as they are), duplicates collapsed, time."""
    head = (f"{'table':<26} {'legacy name':<24} {'read':>9} {'landed':>9} {'quarant.':>9} {'unchanged':>9} "
            f"{'dupl.':>7} {'sec':>8}")
    lines = [head, "-" * len(head)]
    for r in results.values():
        lines.append(f"{r.table:<26} {r.actual or '(absent)':<24} {r.read:>9} {r.landed:>9} {r.quarantined:>9} "
                     f"{r.unchanged:>9} {r.duplicates:>7} {r.seconds:>8.2f}")
    tot = lambda attr: sum(getattr(r, attr) for r in results.values())  # noqa: E731
    lines.append(f"{'total':<26} {'':<24} {tot('read'):>9} {tot('landed'):>9} {tot('quarantined'):>9} "
                 f"{tot('unchanged'):>9} {tot('duplicates'):>7} {tot('seconds'):>8.2f}")
    return lines


# ---------------------------------------------------------------------------------------------------
class LegacyResource(dg.ConfigurableResource):
    """The legacy MHC Control Panel database (read-only). `url` holds a password: it is redacted from
    every message; `time_zone` is the zone its `timestamp without time zone` columns were written in;
    `overlap_minutes` how far behind each mark an import reads again."""

    url: str
    time_zone: str = "America/New_York"
    chunk_rows: int = CHUNK_ROWS
    overlap_minutes: int = int(OVERLAP.total_seconds() // 60)


def resource_from_env() -> LegacyResource:
    return from_settings(LegacyResource, url="MHC_LEGACY_DATABASE_URL", time_zone="MHC_LEGACY_TIMEZONE",
                         overlap_minutes="MHC_LEGACY_OVERLAP_MINUTES")


@dg.multi_asset(
    name="legacy_landing",
    specs=[dg.AssetSpec(key, group_name="landing_legacy", kinds={"python", "postgres"}, owners=metadata.OWNERS,
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
                                    chunk_rows=legacy.chunk_rows, overlap=timedelta(minutes=legacy.overlap_minutes))
        except (LegacyError, psycopg2.Error) as exc:
            raise dg.Failure(description=redact(str(exc), *url_secrets(legacy.url))) from None
    summary = "\n".join(summary_lines(results))
    context.log.info(f"legacy import from {redact(legacy.url, *url_secrets(legacy.url))}:\n{summary}")
    for key, table in zip(KEYS, TABLES):
        meta = results[table.name].as_metadata()
        meta["summary"] = dg.MetadataValue.md("```\n" + summary + "\n```")
        yield dg.MaterializeResult(asset_key=key, metadata=meta)
