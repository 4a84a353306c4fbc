"""Chaturbate Events API: the owner's room, exactly once (sources.md §2).

One code path, `drain()`, serves both the Dagster asset (every minute: follow `nextUrl` until an empty
answer) and `mhc events-worker` (continuously, long-polling). Both take a PostgreSQL advisory lock per
feed first, so they never read the same token at once.

Exactly once:
- every non-empty answer is one batch: its events (ids greater than the stored cursor only) and the new
  cursor (the last event id, never a URL with the token) are written in ONE transaction;
- a restart resumes from the stored id (`?i=<id>`); a replayed answer adds nothing (its ids are at or
  below the cursor, and its batch id is derived from its id range);
- the event time is the epoch-milliseconds prefix of the id (in staging).

Errors: HTTP 400 "waited too long" is an empty answer (follow its nextUrl); 401 stops with a message
that the token is invalid or revoked; 429/5xx back off (the HTTP layer); a body that is not JSON is
quarantined and fails the drain; an unknown `method` is landed and counted, not fatal. The token is a
registered secret: it is redacted from every URL, log line, error, metadata and table.
"""

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import orjson

from mhc_pipeline import load, metadata
from mhc_pipeline.http import AuthError, HttpClient, SourceError, redact
from mhc_pipeline.load import Batch, Reject
from mhc_pipeline.resources import PostgresResource, from_settings

SOURCE = "events"
TABLE = "events"
ASSET_KEY = dg.AssetKey(["raw", TABLE])
METHODS = frozenset({
    "broadcastStart", "broadcastStop", "userEnter", "userLeave", "follow", "unfollow", "fanclubJoin",
    "chatMessage", "privateMessage", "tip", "mediaPurchase", "roomSubjectChange",
})
_ID = re.compile(r"^(\d+)-(\d+)$")
TOKEN_HELP = "create a token with the 'Events API' scope at https://chaturbate.com/statsapi/authtoken/ " \
             "and set MHC_EVENTS_TOKEN"


class EventsAuthError(RuntimeError):
    """The Events API refused the token."""


class EventsResource(dg.ConfigurableResource):
    """The owner's Events API feed. The token is a secret and part of the URL path: it is only ever
    put into a URL inside this module, at call time, and is redacted everywhere else."""

    url: str  # base, e.g. https://eventsapi.chaturbate.com/events/
    username: str
    token: str
    max_per_minute: int = 1000  # the API allows 2000
    retries: int = 8

    def feed(self) -> str:
        """The cursor / lock name of this feed: host and username, never the token."""
        return f"events:{urlsplit(self.url).netloc}/{self.username.lower()}"

    def start_url(self, last_id: str | None, timeout: int) -> str:
        url = f"{self.url.rstrip('/')}/{self.username.lower()}/{self.token}/?timeout={timeout}"
        return url + (f"&i={last_id}" if last_id else "")

    def client(self) -> HttpClient:
        return HttpClient(SOURCE, max_rps=self.max_per_minute / 60.0, retries=self.retries, secrets=[self.token])


def resource_from_env() -> EventsResource:
    return from_settings(EventsResource, url="MHC_EVENTS_URL", username="MHC_OWNER", token="MHC_EVENTS_TOKEN",
                         max_per_minute="MHC_EVENTS_MAX_PER_MINUTE")


def id_key(event_id: str) -> tuple[int, int]:
    m = _ID.match(event_id)
    if not m:
        raise ValueError(f"not an event id: {event_id!r}")
    return int(m.group(1)), int(m.group(2))


def event_time(event_id: str) -> datetime:
    return datetime.fromtimestamp(id_key(event_id)[0] / 1000, tz=UTC)


def _problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return f"event is a {type(event).__name__}, not an object"
    if not isinstance(event.get("id"), str) or not _ID.match(event["id"]):
        return f"event id missing or malformed: {event.get('id')!r}"
    if not isinstance(event.get("method"), str) or not event["method"]:
        return "event method missing"
    if not isinstance(event.get("object"), dict):
        return "event object missing"
    return None


@dataclass
class DrainResult:
    skipped: bool = False  # another drain (worker or run) holds the feed's lock
    answers: int = 0
    events_landed: int = 0
    replayed_dropped: int = 0
    quarantined: int = 0
    reasons: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    unknown_methods: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    last_event_id: str | None = None
    seconds: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "skipped_locked": self.skipped,
            "answers": self.answers,
            "rows_landed": self.events_landed,
            "rows_quarantined": self.quarantined,
            "first_quarantine_reasons": metadata.reasons_md(self.reasons),
            "pages": self.answers,
            "requests": self.requests,
            "retries": self.retries,
            "replayed_dropped": self.replayed_dropped,
            "unknown_methods": sum(self.unknown_methods.values()),
            "unknown_method_names": ", ".join(sorted(self.unknown_methods)) or "none",
            "batches": self.batches,
            "cursor_event_id": self.last_event_id or "",
            "seconds": round(self.seconds, 3),
        }


class _FeedLock:
    """A session-level advisory lock on its own connection: released when the process dies."""

    def __init__(self, dsn: str, name: str):
        import psycopg2

        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    def try_acquire(self) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s)", (self.key,))
            return bool(cur.fetchone()[0])

    def close(self) -> None:
        self.conn.close()  # ends the session, which releases the lock


def drain(
    conn,
    dsn: str,
    res: EventsResource,
    *,
    poll_timeout: int = 0,
    until_empty: bool = True,
    stop: Callable[[], bool] = lambda: False,
    schema: str = "raw",
    log: Callable[[str], None] = lambda _m: None,
) -> DrainResult:
    """Read the feed from the stored cursor. `until_empty`: stop at the first empty answer (the asset);
    otherwise go on until `stop()` (the worker)."""
    started = time.monotonic()
    result = DrainResult()
    lock = _FeedLock(dsn, res.feed())
    try:
        if not lock.try_acquire():
            result.skipped = True
            log("another reader (the worker or a run) holds this feed; nothing to do")
            return result
        load.ensure_raw_index(conn, TABLE, "(payload->>'id')", "events_event_id", schema)
        last_id = load.get_cursor(conn, res.feed(), schema)
        result.last_event_id = last_id
        url = res.start_url(last_id, poll_timeout)
        with res.client() as client:
            while True:
                fetched_at = datetime.now(UTC)
                fetched = client.request("GET", url, timeout=poll_timeout + 15)
                result.answers += 1
                data = _answer(conn, fetched, client, schema, fetched_at)
                events = data.get("events") or []
                next_url = data.get("nextUrl")
                if events:
                    last_id = _land_answer(conn, res, events, fetched, fetched_at, last_id, result, schema)
                    result.last_event_id = last_id
                if isinstance(next_url, str) and next_url:
                    url = next_url  # followed verbatim (it carries the token: kept in memory only)
                elif last_id:
                    url = res.start_url(last_id, poll_timeout)
                result.requests, result.retries = client.requests, client.retries
                if (until_empty and not events) or stop():
                    break
    finally:
        lock.close()
    result.seconds = time.monotonic() - started
    return result


def _answer(conn, fetched, client: HttpClient, schema: str, fetched_at: datetime) -> dict:
    """The JSON of one answer, with the Events API's special statuses handled."""
    if fetched.status == 401:
        raise EventsAuthError(f"the Events API refused the token (HTTP 401): it is invalid, revoked, or for "
                              f"another environment (testbed vs production); {TOKEN_HELP}.")
    if fetched.status == 400:
        try:
            data = orjson.loads(fetched.content)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "waited too long" in str(data.get("status", "")):
            return {"events": [], "nextUrl": data.get("nextUrl")}  # an empty batch, follow its nextUrl
    try:
        data = client.parse(fetched).data
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise ValueError("expected an object with an 'events' list")
    except (SourceError, ValueError) as exc:
        if isinstance(exc, AuthError):
            raise EventsAuthError(f"the Events API refused the token ({exc}); {TOKEN_HELP}.") from None
        load.quarantine_response(conn, source=SOURCE, table=TABLE, fetched_at=fetched_at, request=fetched.url,
                                 reason=str(exc), body=fetched.text, item="response", schema=schema)
        raise SourceError(SOURCE, f"unusable answer, kept in raw.quarantine: {exc}", url=fetched.url) from None
    return data


def accept_events(events: list, last_id: str | None, batch: Batch, result: DrainResult) -> str | None:
    """The events of one answer into `batch`: a malformed one is a reject, one at or below `last_id` (or
    an earlier event of the answer) is dropped as replayed, an unknown method is counted and kept.
    Returns the new last id."""
    last_key = id_key(last_id) if last_id else (-1, -1)
    new_last = last_id
    for n, event in enumerate(events):
        problem = _problem(event)
        if problem:
            batch.rejects.append(Reject(problem, payload=event, key=f"event {n}"))
            continue
        key = id_key(event["id"])
        if key <= last_key:
            result.replayed_dropped += 1
            continue
        last_key, new_last = key, event["id"]
        if event["method"] not in METHODS:
            result.unknown_methods[event["method"]] = result.unknown_methods.get(event["method"], 0) + 1
        batch.records.append(event)
    return new_last


def drop_landed(conn, batch: Batch, schema: str = "raw", *, other_batches_only: bool = False) -> int:
    """Drop from `batch` the events whose id raw.events already holds (never twice, whoever landed it:
    a replay from before the cursor, a saved answer replayed); `other_batches_only`: keep those held by
    this very batch (a replay of the same file is then the same batch, a no-op). Returns how many."""
    if not batch.records:
        return 0
    with conn.cursor() as cur:
        cur.execute(f"select payload->>'id' from {schema}.{TABLE} where payload->>'id' = any(%s)"
                    + (" and batch_id <> %s" if other_batches_only else ""),
                    ([e["id"] for e in batch.records], *([str(batch.batch_id)] if other_batches_only else [])))
        seen = {r[0] for r in cur.fetchall()}
    conn.commit()
    if seen:
        batch.records = [e for e in batch.records if e["id"] not in seen]
    return len(seen)


def _land_answer(conn, res: EventsResource, events: list, fetched, fetched_at: datetime, last_id: str | None,
                 result: DrainResult, schema: str) -> str | None:
    batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at, requests=[fetched.url])
    new_last = accept_events(events, last_id, batch, result)
    result.replayed_dropped += drop_landed(conn, batch, schema)  # ids already in raw.events: never twice
    if not batch.records and not batch.rejects:
        if new_last and new_last != last_id:
            with conn.cursor() as cur:
                load.set_cursor(res.feed(), new_last, schema)(cur)
            conn.commit()
        return new_last
    first = batch.records[0]["id"] if batch.records else f"after:{last_id}"
    batch.key = f"{res.feed()}|{first}..{new_last}"
    landed = load.land(conn, batch, schema=schema,
                       extra_sql=load.set_cursor(res.feed(), new_last, schema) if new_last else None)
    result.events_landed += landed.rows
    result.quarantined += landed.quarantined
    if not landed.already_landed:  # the first few only: a worker runs for days
        result.reasons.extend(r.reason for r in batch.rejects[:metadata.FIRST_REASONS - len(result.reasons)])
    result.batches += 0 if landed.already_landed else 1
    return new_last


# ---------------------------------------------------------------------------------------------------
# Replays (`mhc land events FILE --fetched-at TS`). An event's identity is its id, not the time of the
# answer that carried it (its time is the id's milliseconds, in staging): a saved answer lands the events
# raw.events does not hold yet, whoever landed the others (the live drain or an earlier replay), as one
# batch identified by the file's id range, so the same file again is the same batch, a no-op, at any
# --fetched-at. The live cursor is not moved: the drain skips, by id, what a replay landed.
ANSWER_SHAPE = '{"events": [{"method": ..., "id": "<ms>-<seq>", "object": {...}}, ...], "nextUrl": ...}'


def batch_from_file(path: Path, fetched_at: datetime) -> Batch:
    """A saved Events API answer (or its HTTP 400 "waited too long" variant) as a batch: the same checks
    as a live answer (malformed events quarantined, unknown methods kept, ids ascending). Before landing
    it, `before_replay()` drops the events already landed."""
    data = load.read_saved_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValueError(f"{path.name} is not a saved Events API answer: expected {ANSWER_SHAPE}")
    batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at, requests=[f"file://{path.name}"],
                  meta={"replayed_from": path.name})
    counts = DrainResult()
    last = accept_events(data["events"], None, batch, counts)  # no cursor: every id is new to the file
    if batch.records:
        broadcaster = batch.records[0]["object"].get("broadcaster")
        feed = f"replay:{broadcaster.lower() if isinstance(broadcaster, str) else ''}"
        batch.key = f"{feed}|{batch.records[0]['id']}..{last}"
    batch.meta.update(events=len(batch.records), replayed_dropped=counts.replayed_dropped,
                      unknown_methods=sum(counts.unknown_methods.values()))
    return batch


def before_replay(conn, batch: Batch, schema: str = "raw") -> None:
    """Drop the replayed events raw.events already holds in another batch (`mhc land`, before landing)."""
    load.ensure_raw_index(conn, TABLE, "(payload->>'id')", "events_event_id", schema)
    batch.meta["already_landed"] = drop_landed(conn, batch, schema, other_batches_only=True)


# ---------------------------------------------------------------------------------------------------
@metadata.landing_asset(
    key=ASSET_KEY,
    group_name="landing_events",
    description=(
        "The owner's room from the Chaturbate Events API (tips, messages, joins, follows...), exactly once: "
        "each answer's events and the cursor (last event id) are written in one transaction; a run drains "
        "the feed until an empty answer, skipping when `mhc events-worker` holds the feed. One row per "
        "event in `raw.events`, the whole event as jsonb."
    ),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=3)),
)
def events(context: dg.AssetExecutionContext, postgres: PostgresResource, events_api: EventsResource):
    dsn = postgres.resolved_url()
    with postgres.connect() as conn:
        try:
            result = drain(conn, dsn, events_api, poll_timeout=0, until_empty=True, schema=postgres.raw_schema,
                           log=context.log.info)
        except EventsAuthError as exc:
            raise dg.Failure(description=redact(str(exc))) from None
    context.log.info(
        f"events: {result.events_landed} landed in {result.batches} batches, {result.replayed_dropped} replayed "
        f"dropped, {result.quarantined} quarantined, unknown methods: {result.unknown_methods or 'none'}"
    )
    return dg.MaterializeResult(metadata=metadata.landing(result.as_metadata()))


def run_worker(dsn: str, res: EventsResource, *, poll_timeout: int = 30, schema: str = "raw",
               stop: threading.Event | None = None, log: Callable[[str], None] = print) -> None:
    """`mhc events-worker`: long-poll the feed until stopped; wait while another reader holds it; back
    off after errors (auth errors stop it)."""
    from mhc_pipeline import db

    stop = stop or threading.Event()
    backoff = 1.0
    while not stop.is_set():
        try:
            with db.connection(dsn) as conn:
                result = drain(conn, dsn, res, poll_timeout=poll_timeout, until_empty=False, stop=stop.is_set,
                               schema=schema, log=log)
            if result.skipped:
                stop.wait(5)
                continue
            backoff = 1.0
        except EventsAuthError:
            raise
        except Exception as exc:  # noqa: BLE001 - a worker keeps going; the message is redacted
            log(f"events worker: {redact(exc)}; retrying in {backoff:.0f}s")
            stop.wait(backoff)
            backoff = min(backoff * 2, 60.0)
