"""Chaturbate Stats API: the owner's own statistics, one snapshot every 5 minutes (sources.md §3).

`GET <MHC_STATS_URL>?username=<owner>&token=<token>` answers one JSON object (token balance, tips in
the last hour, votes, followers, viewers...). The source refreshes every 5 minutes, so one request per
cycle is all there is: one row per cycle in `raw.stats_api`, the whole object as jsonb, `fetched_at`
(= `captured_at` downstream) the cycle's time. Landing the same cycle again changes nothing.

The token is a query parameter: it is a registered secret, redacted from every URL, log line, error,
stored request and Dagster metadata (the HTTP layer stores only the redacted URL).

Outcomes, each distinct:
- **landed**: the snapshot is in `raw.stats_api` (a snapshot with a missing field or a wrong type is
  quarantined with its reason instead, and the run fails);
- **unauthorized**: the plain-text body `Unauthorized` (whatever the status; 401 likely) or a 401:
  the run stops (fails) at once, no retry, with a message naming `MHC_STATS_TOKEN`;
- **throttled**: HTTP 403 (or a 429 after the retries) with the plain-text `Try slowing down a little.`; the
  Stats API is left alone for `MHC_STATS_BACKOFF_MINUTES` (the time is stored in `raw.cursors`, so
  every process honours it): the run succeeds without a materialization and records an observation
  (`outcome: throttled`, `backoff_until`); later runs inside the window do not call the API
  (`outcome: backing_off`);
- **unusable answer** (a Cloudflare HTML page, malformed JSON, not an object, another status): kept in
  `raw.quarantine` with its reason, and the run fails. 429/5xx are retried by the HTTP layer first.
"""


import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from mhc_pipeline import load, metadata
from mhc_pipeline.http import HttpClient, SharedRateLimiter, SourceError, redact
from mhc_pipeline.load import Batch, FieldRule, Reject
from mhc_pipeline.resources import HTTP_SETTINGS, PostgresResource, from_settings
from mhc_pipeline.utc import parse_time

SOURCE = "stats"
TABLE = "stats_api"
ASSET_KEY = dg.AssetKey(["raw", TABLE])
THROTTLE_TEXT = "try slowing down"
UNAUTHORIZED_TEXT = "unauthorized"
TOKEN_HELP = ("create a Stats API token at https://chaturbate.com/statsapi/authtoken/ (logged in as the owner) "
              "and set MHC_STATS_TOKEN; MHC_OWNER must be the token's username")

INT, STR = (int,), (str,)
SNAPSHOT_SCHEMA: dict[str, FieldRule] = {
    "username": FieldRule(STR, required=True, nullable=False, nonempty=True),
    "token_balance": FieldRule(INT, required=True),
    "tips_in_last_hour": FieldRule(INT),  # may be null (or absent)
    "votes_up": FieldRule(INT, required=True),
    "votes_down": FieldRule(INT, required=True),
    "satisfaction_score": FieldRule(INT),  # may be null
    "last_broadcast": FieldRule((str, int), required=True),  # ISO string, or the int -1 (never)
    "time_online": FieldRule(INT, required=True),  # -1 = not broadcasting
    "num_followers": FieldRule(INT, required=True, nullable=False),
    "num_viewers": FieldRule(INT, required=True),
    "num_registered_viewers": FieldRule(INT, required=True),
    "num_tokened_viewers": FieldRule(INT),  # missing from some clients' types
}


class StatsResource(dg.ConfigurableResource):
    """The owner's Stats API. The token is a secret and a query parameter: it is only ever put into a
    request inside this module, at call time, and is redacted everywhere else."""

    url: str
    username: str
    token: str
    max_per_minute: int = 2  # the data refreshes every 5 minutes
    backoff_minutes: int = 60  # after `403 Try slowing down a little.`
    timeout: int = 30
    retries: int = 5

    def feed(self) -> str:
        """The name of this feed (host and username, never the token): its back-off cursor and limiter."""
        return f"stats:{urlsplit(self.url).netloc}/{self.username.strip().lower()}"

    def client(self, dsn: str) -> HttpClient:
        limiter = SharedRateLimiter(dsn, key=self.feed(), max_rps=self.max_per_minute / 60.0)
        return HttpClient(SOURCE, timeout=self.timeout, retries=self.retries, limiter=limiter, secrets=[self.token])


def resource_from_env() -> StatsResource:
    return from_settings(StatsResource, url="MHC_STATS_URL", username="MHC_OWNER", token="MHC_STATS_TOKEN",
                         max_per_minute="MHC_STATS_MAX_PER_MINUTE", backoff_minutes="MHC_STATS_BACKOFF_MINUTES",
                         **HTTP_SETTINGS)


# ---------------------------------------------------------------------------------------------------
class StatsAuthError(RuntimeError):
    """The Stats API refused the token (body `Unauthorized`): stop, do not retry."""


class StatsThrottled(RuntimeError):
    """The Stats API answered `403 Try slowing down a little.`: back off."""

    def __init__(self, message: str, backoff_until: datetime):
        super().__init__(message)
        self.backoff_until = backoff_until


class StatsUnusable(RuntimeError):
    """The answer could not be used (kept in raw.quarantine)."""


@dataclass
class CycleResult:
    outcome: str  # landed | already_landed | quarantined | throttled | backing_off
    fetched_at: datetime
    landed: load.Landed | None = None
    backoff_until: datetime | None = None
    reasons: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    snapshot: dict[str, Any] | None = None

    def as_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "outcome": self.outcome,
            "fetched_at": self.fetched_at.isoformat(),
            "rows_landed": self.landed.rows if self.landed else 0,
            "rows_quarantined": self.landed.quarantined if self.landed else 0,
            "requests": self.requests,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "first_quarantine_reasons": metadata.reasons_md(self.reasons),
        }
        if self.landed is not None:
            meta["batch_id"] = str(self.landed.batch_id)
            meta["already_landed"] = self.landed.already_landed
        if self.backoff_until is not None:
            meta["backoff_until"] = self.backoff_until.isoformat()
        snap = self.snapshot or {}
        for key in ("num_followers", "num_viewers", "token_balance", "time_online"):
            if isinstance(snap.get(key), int) and not isinstance(snap.get(key), bool):
                meta[key] = snap[key]
        return meta


def backoff_cursor(res: StatsResource) -> str:
    return f"{res.feed()}:backoff_until"


def backoff_until(conn, res: StatsResource, schema: str = "raw") -> datetime | None:
    """The end of the current back-off after a throttle (None when there is none)."""
    value = load.get_cursor(conn, backoff_cursor(res), schema)
    return datetime.fromisoformat(value) if value else None


def _text_of(fetched) -> str:
    return fetched.content[:500].decode("utf-8", errors="replace").strip()


def fetch_cycle(conn, dsn: str, res: StatsResource, fetched_at: datetime, *, schema: str = "raw",
                now: datetime | None = None) -> CycleResult:
    """One Stats API cycle: honour a running back-off, fetch once, classify, land (or quarantine).

    Raises `StatsAuthError` (stop) and `StatsUnusable` (quarantined); a throttle is the result
    `throttled` (the back-off is stored)."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    load.ensure_raw_table(conn, TABLE, schema)
    until = backoff_until(conn, res, schema)
    if until is not None and now < until:
        return CycleResult("backing_off", fetched_at, backoff_until=until, seconds=time.monotonic() - started)
    params = {"username": res.username.strip().lower(), "token": res.token}
    with res.client(dsn) as client, contextlib.closing(client.limiter):
        try:
            fetched = client.request("GET", res.url, params=params)
        finally:
            result_requests, result_retries = client.requests, client.retries
        text = _text_of(fetched)
        lowered = text.lower()
        if lowered.strip('"') == UNAUTHORIZED_TEXT or fetched.status == 401:
            raise StatsAuthError(
                f"the Stats API refused the token (HTTP {fetched.status}, body {redact(text[:40])!r}): it is "
                f"invalid, revoked, or not {res.username.lower()}'s; {TOKEN_HELP}. Not retried.")
        if fetched.status in (403, 429) and THROTTLE_TEXT in lowered and not lowered.startswith("<"):
            until = now + timedelta(minutes=res.backoff_minutes)
            with conn.cursor() as cur:
                load.set_cursor(backoff_cursor(res), until.isoformat(), schema)(cur)
            conn.commit()
            return CycleResult("throttled", fetched_at, backoff_until=until, requests=result_requests,
                               retries=result_retries, seconds=time.monotonic() - started)
        try:
            data = client.parse(fetched).data
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        except (SourceError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, SourceError) else f"{SOURCE}: {exc}"
            load.quarantine_response(conn, source=SOURCE, table=TABLE, fetched_at=fetched_at, request=fetched.url,
                                     reason=reason, body=fetched.text, item="response", scope=params["username"],
                                     schema=schema)
            raise StatsUnusable(f"unusable Stats API answer, kept in raw.quarantine: {redact(reason)}") from None
    batch, problem = snapshot_batch(data, fetched_at, request=fetched.url, username=params["username"],
                                    meta={"requests": result_requests, "retries": result_retries})
    landed = load.land(conn, batch, schema=schema)
    if until is not None:  # a back-off that ran out: forget it
        with conn.cursor() as cur:
            cur.execute(f"delete from {schema}.cursors where name = %s", (backoff_cursor(res),))
        conn.commit()
    outcome = "quarantined" if problem else ("already_landed" if landed.already_landed else "landed")
    return CycleResult(outcome, fetched_at, landed=landed, reasons=[problem] if problem else [],
                       requests=result_requests, retries=result_retries, seconds=time.monotonic() - started,
                       snapshot=None if problem else data)


def snapshot_batch(data: dict, fetched_at: datetime, *, request: str, username: str,
                   meta: dict[str, Any]) -> tuple[Batch, str | None]:
    """One snapshot as a batch of one row (scope: the username), or of one quarantined item (a missing
    field, a wrong type, another user's answer) with the reason, which is also returned."""
    batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at, requests=[request], scope=username, meta=meta)
    problem = load.validate(data, SNAPSHOT_SCHEMA)
    if problem is None and data["username"].strip().lower() != username:
        problem = f"answer is for {data['username']!r}, not {username!r}"
    if problem:
        batch.rejects.append(Reject(problem, payload=data, key="snapshot"))
    else:
        batch.records.append(data)
    return batch, problem


def batch_from_file(path: Path, fetched_at: datetime) -> Batch:
    """A saved Stats API answer (one JSON object; `mhc land stats`) as the live cycle at `fetched_at`
    would have landed it: same checks, same identity (the answer's username). The token is not in it."""
    data = load.read_saved_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("username"), str) or not data["username"].strip():
        raise ValueError(f"{path.name} is not a saved Stats API answer: expected one object "
                         '{"username": ..., "token_balance": ..., "num_followers": ..., ...}')
    batch, _ = snapshot_batch(data, fetched_at, request=f"file://{path.name}",
                              username=data["username"].strip().lower(), meta={"replayed_from": path.name})
    return batch


# ---------------------------------------------------------------------------------------------------
class StatsConfig(dg.Config):
    fetched_at: str | None = None  # ISO-8601 cycle time (= captured_at); default now (tests, replays pin it)


@metadata.landing_asset(
    key=ASSET_KEY,
    group_name="landing_stats",
    output_required=False,
    description=(
        "The owner's own statistics from the Chaturbate Stats API (token balance, tips in the last hour, "
        "votes, followers, viewers, time online), one snapshot per 5-minute cycle. One row per cycle in "
        "`raw.stats_api`, the whole answer as jsonb; the token (a query parameter) is redacted everywhere. "
        "`Unauthorized` fails the run (fix MHC_STATS_TOKEN); `403 Try slowing down a little.` backs off for "
        "MHC_STATS_BACKOFF_MINUTES without a materialization (an observation says so)."
    ),
    check_specs=[dg.AssetCheckSpec(
        "stats_api_answering", asset=ASSET_KEY,
        description="The Stats API answered the last cycle. A warning while it throttles us (`403 Try slowing down "
                    "a little.`): the run is green, nothing is asked until the back-off ends, "
                    "and the check says when.")],
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=10)),
)
def stats_api(context: dg.AssetExecutionContext, config: StatsConfig, postgres: PostgresResource,
              stats: StatsResource):
    fetched_at = parse_time(config.fetched_at)
    dsn = postgres.resolved_url()
    with postgres.connect() as conn:
        try:
            result = fetch_cycle(conn, dsn, stats, fetched_at, schema=postgres.raw_schema)
        except StatsAuthError as exc:
            raise dg.Failure(description=redact(str(exc)), metadata={"outcome": "unauthorized"}) from None
        except StatsUnusable as exc:
            raise dg.Failure(description=redact(str(exc)), metadata={"outcome": "unusable"}) from None
        except SourceError as exc:  # no answer at all (connection, timeouts, retries exhausted)
            raise dg.Failure(description=redact(str(exc)), metadata={"outcome": "unreachable"}) from None
    meta = result.as_metadata()
    if result.outcome in ("throttled", "backing_off"):
        until = result.backoff_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        message = (f"stats: the Stats API throttled us (403 Try slowing down a little.); backing off until "
                   f"{until} (MHC_STATS_BACKOFF_MINUTES after the throttle): no snapshot lands before then"
                   if result.outcome == "throttled" else
                   f"stats: backing off after a throttle until {until}; not asked, no snapshot landed")
        context.log.warning(message)
        yield dg.AssetObservation(asset_key=ASSET_KEY, metadata=meta, description=message)
        # a green run that landed nothing must not look like one that did: the check says so in the UI
        yield dg.AssetCheckResult(check_name="stats_api_answering", passed=False,
                                  severity=dg.AssetCheckSeverity.WARN, description=message,
                                  metadata={"outcome": result.outcome,
                                            "backoff_until": result.backoff_until.isoformat(),
                                            "setting": "MHC_STATS_BACKOFF_MINUTES"})
        return
    if result.outcome == "quarantined":
        raise dg.Failure(description=redact(f"stats: the snapshot was quarantined: {result.reasons[0]}"),
                         metadata=meta)
    context.log.info(f"stats {fetched_at.isoformat()}: {result.outcome}, {meta['rows_landed']} row landed")
    yield dg.MaterializeResult(metadata=metadata.landing(meta), check_results=[
        dg.AssetCheckResult(check_name="stats_api_answering", passed=True, metadata={"outcome": result.outcome})])
