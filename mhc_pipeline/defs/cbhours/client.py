"""CBHours: live stats every minute for the tracked models, and 3-minute activity history (sources.md §5).

- **Live** (`raw/cbhours_live`): `get_live` for the tracked models, 50 names a request; every answer is
  landed whole (one row per answer); the cycle's time is `checked_at` downstream.
- **Activity** (`raw/cbhours_activity`): `get_activity` with details and `tzo=0`, daily partitions over
  the 60 days CBHours keeps, so a 60-day backfill is an ordinary Dagster backfill (one run, one request
  per model for the whole range). Today's partition is refreshed every 3 minutes for the models the
  latest live cycle saw online.
- **1 request per second**, across every process (a backfill beside the live schedule): a limiter
  shared through PostgreSQL (`http.SharedRateLimiter`).
- **`Error Code:300`** (model not in CBHours' trophy database) is a fact about the model: the answer is
  landed like any other, and the model is left out of the tracked set until it is re-checked (a setting,
  default 24 h) instead of being asked every minute.
"""

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dagster as dg

from mhc_pipeline import load, metadata
from mhc_pipeline.http import HttpClient, SharedRateLimiter, SourceError, redact
from mhc_pipeline.load import Batch, Reject
from mhc_pipeline.resources import HTTP_SETTINGS, PostgresResource, from_settings
from mhc_pipeline.utc import parse_time

SOURCE = "cbhours"
LIVE_TABLE = "cbhours_live"
ACTIVITY_TABLE = "cbhours_activity"
LIVE_KEY = dg.AssetKey(["raw", LIVE_TABLE])
ACTIVITY_KEY = dg.AssetKey(["raw", ACTIVITY_TABLE])
LIVE_BATCH = 50
MAX_RANGE_DAYS = 60
HISTORY_DAYS = 60
ERROR_300 = "Error Code:300"
# the username an activity request was for: the client knows it when it asks (an error answer does not
# name its model); rows landed before the column existed get it from their request URL, once
ACTIVITY_COLUMNS = (
    load.RawColumn("username", backfill="substring(request from '[?&]username=([A-Za-z0-9_]+)')"),)
FOLLOW_LISTS_TABLE = "follow_lists"  # defs/follows: the owner's following list is tracked


class CBHoursResource(dg.ConfigurableResource):
    """The CBHours API (no credential; access depends on the model being in its trophy database)."""

    url: str
    max_per_minute: int = 60  # CBHours allows 1 request per second
    timeout: int = 30
    retries: int = 5

    def client(self, dsn: str) -> HttpClient:
        limiter = SharedRateLimiter(dsn, key=f"{SOURCE}:{self.url}", max_rps=self.max_per_minute / 60.0)
        return HttpClient(SOURCE, timeout=self.timeout, retries=self.retries, limiter=limiter)


class TrackingResource(dg.ConfigurableResource):
    """Which models CBHours (and later StatBate) is asked about: the watch list, then the owner's following
    list (its newest complete capture), then the people seen in the owner's room, most recent first;
    at most `max_models`. Models CBHours answered `Error Code:300` for are skipped for
    `error300_recheck_hours`."""

    watchlist: str = ""  # comma-separated usernames
    owner: str = "hudson_cage"
    max_models: int = 300
    error300_recheck_hours: int = 24


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    return {
        "cbhours": from_settings(CBHoursResource, url="MHC_CBHOURS_URL",
                                 max_per_minute="MHC_CBHOURS_MAX_PER_MINUTE", **HTTP_SETTINGS),
        "tracking": from_settings(TrackingResource, watchlist="MHC_WATCHLIST", owner="MHC_OWNER",
                                  max_models="MHC_TRACKED_MAX",
                                  error300_recheck_hours="MHC_CBHOURS_ERROR300_RECHECK_HOURS"),
    }


# ---------------------------------------------------------------------------------------------------
def tracked_models(conn, tracking: TrackingResource, schema: str = "raw") -> list[str]:
    """The tracked set, in priority order (see TrackingResource)."""
    for table in ("events", FOLLOW_LISTS_TABLE):
        load.ensure_raw_table(conn, table, schema)
    load.ensure_raw_table(conn, ACTIVITY_TABLE, schema, ACTIVITY_COLUMNS)
    watch = [u.strip().lower() for u in tracking.watchlist.split(",") if u.strip()]
    with conn.cursor() as cur:
        cur.execute(
            f"""
            with candidates as (
                select u.username, 0 as prio, u.ord::float8 as recency
                  from unnest(%(watch)s::text[]) with ordinality as u(username, ord)
                union all
                select %(owner)s, 1, 0
                union all
                -- the owner's following list: the newest complete capture, in its order (online rooms first)
                select lower(u.value->>'username'), 2, u.ord::float8
                  from (select payload from {schema}.{FOLLOW_LISTS_TABLE}
                         where payload->>'direction' = 'following' and payload->>'complete' = 'true'
                         order by fetched_at desc limit 1) f
                 cross join lateral jsonb_array_elements(f.payload->'users') with ordinality as u(value, ord)
                union all
                select lower(payload->'object'->'user'->>'username'), 3,
                       -extract(epoch from max(fetched_at))
                  from {schema}.events
                 where payload->'object'->'user'->>'username' is not null
                 group by 1
            ),
            last_answer as (
                select distinct on (username) username, fetched_at,
                       coalesce(payload->>'message', '') like %(err)s as is_error_300
                  from (select username, fetched_at, payload from {schema}.{ACTIVITY_TABLE}) a
                 where username is not null
                 order by username, fetched_at desc
            )
            select c.username
              from candidates c
              left join last_answer e on e.username = c.username
             where c.username <> ''
               and not coalesce(e.is_error_300 and e.fetched_at > now() - make_interval(hours => %(hours)s), false)
             group by c.username
             order by min(c.prio), min(c.recency), c.username
             limit %(limit)s
            """,
            {"watch": watch, "owner": tracking.owner.lower(), "err": ERROR_300 + "%",
             "hours": tracking.error300_recheck_hours, "limit": tracking.max_models},
        )
        names = [r[0] for r in cur.fetchall()]
    conn.commit()
    return names


def online_now(conn, schema: str = "raw") -> list[str]:
    """The models the latest live cycle saw `Online`."""
    load.ensure_raw_table(conn, LIVE_TABLE, schema)
    with conn.cursor() as cur:
        cur.execute(
            f"""select distinct lower(e.key)
                  from {schema}.{LIVE_TABLE} r, jsonb_each(r.payload->'data') e
                 where r.batch_id = (select batch_id from {schema}.{LIVE_TABLE} order by fetched_at desc limit 1)
                   and e.value->>'room_status' = 'Online'
                 order by 1"""
        )
        names = [r[0] for r in cur.fetchall()]
    conn.commit()
    return names


def _error_of(data: Any) -> str | None:
    """CBHours reports errors in a 200 body: `status` is the string "error" (on success it is `true`)."""
    if isinstance(data, dict) and str(data.get("status")).lower() == "error":
        return str(data.get("message") or "error")
    return None


def live_counts(data: dict) -> tuple[int, int]:
    """(online, offline) models of one good `get_live` answer."""
    entries = data["data"] if isinstance(data["data"], dict) else {}  # PHP encodes an empty map as []
    online = sum(1 for e in entries.values() if isinstance(e, dict) and e.get("room_status") == "Online")
    return online, len(entries) - online


def live_answer_problem(data: Any) -> str | None:
    """Why one `get_live` answer cannot be landed (an error body, or no `data` object), or None."""
    error = _error_of(data)
    if error or not isinstance(data, dict) or not isinstance(data.get("data"), (dict, list)):
        return f"get_live answered an error: {error}" if error else "expected an object with a 'data' object"
    return None


def activity_params(name: str, start: date | None, end: date | None) -> dict[str, Any]:
    """The query of a `get_activity` request (details, tzo=0); staging reads the dates and tzo from it (the
    username lands in its own column, ACTIVITY_COLUMNS)."""
    params: dict[str, Any] = {"action": "get_activity", "domain": "cbhours", "username": name}
    if start is not None and end is not None:
        params.update(start_date=start.isoformat(), end_date=end.isoformat())
    params.update(tzo=0, include_details="true")
    return params


def activity_answer(data: Any) -> tuple[str, Any]:
    """What one `get_activity` answer is: ("ok", its segment count), ("error300", None): a fact about the
    model, landed like an answer; or ("reject", the reason)."""
    error = _error_of(data)
    if error and ERROR_300 in error:
        return "error300", None
    if error or not isinstance(data, dict):
        return "reject", f"get_activity answered an error: {error}" if error else "expected an object"
    details = data.get("details") or {}
    segments = sum(len(v) for v in details.values() if isinstance(v, list)) if isinstance(details, dict) else 0
    return "ok", segments


def live_batch(client: HttpClient, res: CBHoursResource, names: list[str], fetched_at: datetime) -> Batch:
    """One live cycle: `get_live` per 50 names; good answers are records, bad ones rejects."""
    batch = Batch(source=SOURCE, table=LIVE_TABLE, fetched_at=fetched_at, meta={"models": len(names)})
    online = offline = 0
    missing: list[str] = []  # the models of the requests that got no usable answer this cycle
    for i in range(0, len(names), LIVE_BATCH):
        chunk = names[i:i + LIVE_BATCH]
        params = {"action": "get_live", "usernames": ",".join(chunk)}
        try:
            fetched = client.get_json(res.url, params=params)
        except SourceError as exc:
            batch.rejects.append(Reject(str(exc), body=exc.body or None, key=f"request {i // LIVE_BATCH}"))
            missing += chunk
            continue
        data = fetched.data
        reason = live_answer_problem(data)
        if reason:
            batch.rejects.append(Reject(reason, payload=data, key=f"request {i // LIVE_BATCH}"))
            missing += chunk
            continue
        up, down = live_counts(data)
        online, offline = online + up, offline + down
        batch.records.append(data)
        batch.requests.append(fetched.url)
    batch.meta.update(online=online, offline=offline, requests=client.requests, retries=client.retries,
                      models_without_answer=len(missing), missing_models=missing)
    if len(batch.requests) == 1:
        batch.requests = batch.requests * len(batch.records)
    return batch


def activity_batch(client: HttpClient, res: CBHoursResource, names: list[str], start: date, end: date,
                   fetched_at: datetime, progress=None) -> Batch:
    """`get_activity` (details, tzo=0) for each model over [start, end] (chunks of at most 60 days)."""
    batch = Batch(source=SOURCE, table=ACTIVITY_TABLE, fetched_at=fetched_at, scope=f"{start}..{end}",
                  columns=ACTIVITY_COLUMNS)
    segments = not_in_db = 0
    for name in names:
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + timedelta(days=MAX_RANGE_DAYS - 1))
            params = activity_params(name, chunk_start, chunk_end)
            try:
                fetched = client.get_json(res.url, params=params)
            except SourceError as exc:
                batch.rejects.append(Reject(str(exc), body=exc.body or None, key=f"{name} {chunk_start}"))
            else:
                kind, value = activity_answer(fetched.data)
                if kind == "reject":
                    batch.rejects.append(Reject(value, payload=fetched.data, key=f"{name} {chunk_start}"))
                else:
                    # Error Code:300 is a fact about the model: landed, and it stops being asked for a while
                    not_in_db += kind == "error300"
                    segments += value or 0
                    batch.records.append(fetched.data)
                    batch.requests.append(fetched.url)
                    batch.values.append((name,))
            chunk_start = chunk_end + timedelta(days=1)
        if progress is not None:
            progress.update(1)
    batch.meta.update(models=len(names), segments=segments, not_in_trophy_db=not_in_db,
                      requests=client.requests, retries=client.retries)
    return batch


# ---------------------------------------------------------------------------------------------------
# Replays (`mhc land cbhours-live|cbhours-activity FILE --fetched-at TS`): a saved answer lands through the
# same checks as a live one, with the identity the live fetch at that time would have had.
_USERNAME = re.compile(r"^[A-Za-z0-9_]+$")
LIVE_SHAPE = '{"server_status": "up", "data": {"<username>": {"room_status": ...}, ...}}'
ACTIVITY_SHAPE = '{"status": true, "model": ..., "activity": {...}, "details": {...}} or {"status": "error", ...}'


def live_batch_from_file(path: Path, fetched_at: datetime) -> Batch:
    """A saved `get_live` answer (or a list of them: one cycle) as the live cycle at `fetched_at` would
    have landed it: good answers are rows, error answers are quarantined with the live path's reason."""
    data = load.read_saved_json(path)
    answers = data if isinstance(data, list) else [data]
    for n, answer in enumerate(answers):
        if not isinstance(answer, dict) or not ("data" in answer or _error_of(answer)):
            where = f"answer {n} of {len(answers)} in {path.name}" if isinstance(data, list) else path.name
            raise ValueError(f"{where} is not a saved CBHours get_live answer: expected {LIVE_SHAPE} (or a list "
                             "of them); save the answer of action=get_live as it came")
    if not answers:
        raise ValueError(f"{path.name} is an empty list: expected {LIVE_SHAPE} (or a list of them)")
    batch = Batch(source=SOURCE, table=LIVE_TABLE, fetched_at=fetched_at, meta={"replayed_from": path.name})
    online = offline = 0
    for n, answer in enumerate(answers):
        reason = live_answer_problem(answer)
        if reason:
            batch.rejects.append(Reject(reason, payload=answer, key=f"answer {n}"))
            continue
        up, down = live_counts(answer)
        online, offline = online + up, offline + down
        batch.records.append(answer)
    batch.requests = [f"file://{path.name}"]
    batch.meta.update(online=online, offline=offline)
    return batch


def activity_batch_from_file(path: Path, fetched_at: datetime, username: str | None = None) -> Batch:
    """A saved `get_activity` answer (asked with tzo=0, as the live path asks) as the live fetch at
    `fetched_at` would have landed it. Its model is the answer's `model`, else `username` (an error answer
    does not name it); the days asked are taken as its first to last day. The request column is
    `file://<name>?action=get_activity&username=...&start_date=...&end_date=...&tzo=0...`: staging reads the
    days and tzo from it, as from a live request; the model lands in the `username` column, as a live one."""
    data = load.read_saved_json(path)
    if not isinstance(data, dict) or not ({"status", "model", "activity", "details"} & set(data)):
        raise ValueError(f"{path.name} is not a saved CBHours get_activity answer: expected {ACTIVITY_SHAPE}")
    model = data.get("model").strip() if isinstance(data.get("model"), str) and data["model"].strip() else None
    name = (username or "").strip() or model
    if model and username and model.lower() != username.strip().lower():
        raise ValueError(f"{path.name} is the answer for {model!r}, not for --username {username!r}: leave "
                         "--username out or give the answer's own model")
    if not name:
        raise ValueError(f"{path.name} does not name its model (an error answer has no 'model'): give the "
                         "username it was asked for with --username NAME")
    if not _USERNAME.match(name):
        raise ValueError(f"{name!r} is not a CBHours username (letters, digits and _ only)")
    name = name.lower()
    days: set[date] = set()
    for key in ("activity", "details"):
        if isinstance(data.get(key), dict):
            for day in data[key]:
                try:
                    days.add(date.fromisoformat(str(day)))
                except ValueError:
                    pass
    start, end = (min(days), max(days)) if days else (None, None)
    batch = Batch(source=SOURCE, table=ACTIVITY_TABLE, fetched_at=fetched_at,
                  scope=f"{start}..{end}" if days else "", meta={"replayed_from": path.name, "models": 1},
                  columns=ACTIVITY_COLUMNS)
    kind, value = activity_answer(data)
    if kind == "reject":
        batch.rejects.append(Reject(value, payload=data, key=f"{name} {start or 'answer'}"))
    else:
        batch.records.append(data)
        batch.requests.append(f"file://{path.name}?{urlencode(activity_params(name, start, end))}")
        batch.values.append((name,))
    batch.meta.update(segments=value if kind == "ok" else 0, not_in_trophy_db=int(kind == "error300"))
    return batch


def _metadata(batch: Batch, landed: load.Landed, started: float) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rows_landed": landed.rows,
        "rows_quarantined": landed.quarantined,
        "first_quarantine_reasons": metadata.reasons_md(r.reason for r in batch.rejects),
        "fetched_at": batch.fetched_at.isoformat(),
        "seconds": round(time.monotonic() - started, 3),
    }
    meta.update({k: v for k, v in batch.meta.items() if isinstance(v, (int, float, str))})
    return metadata.landing(meta)


# ---------------------------------------------------------------------------------------------------
class LiveConfig(dg.Config):
    fetched_at: str | None = None  # ISO-8601 cycle time (= checked_at); default now (tests and replays pin it)


@metadata.landing_asset(
    key=LIVE_KEY,
    group_name="landing_cbhours",
    description=(
        "CBHours `get_live` for the tracked models (watch list, the owner, people seen in the owner's room), "
        "50 names a request, at most 1 request/s across all processes. One row per answer in "
        "`raw.cbhours_live`, the whole answer as jsonb; the cycle's time is `checked_at` downstream."
    ),
    check_specs=[dg.AssetCheckSpec(
        "cbhours_live_complete", asset=LIVE_KEY,
        description="Every tracked model got an answer this cycle. A warning naming the models without one when "
                    "some get_live requests were refused (their answers are quarantined with the reason); the "
                    "models' merged fields keep their older values until the next cycle answers.")],
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=3)),
)
def cbhours_live(context: dg.AssetExecutionContext, config: LiveConfig, postgres: PostgresResource,
                 cbhours: CBHoursResource, tracking: TrackingResource):
    started = time.monotonic()
    fetched_at = parse_time(config.fetched_at)
    dsn = postgres.resolved_url()
    with postgres.connect() as conn:
        names = tracked_models(conn, tracking, postgres.raw_schema)
        with cbhours.client(dsn) as client:
            batch = live_batch(client, cbhours, names, fetched_at)
        landed = load.land(conn, batch, schema=postgres.raw_schema)
    if names and not batch.records:
        raise dg.Failure(description=f"every get_live request failed: {batch.rejects[0].reason}",
                         metadata=_metadata(batch, landed, started))
    context.log.info(f"cbhours live {fetched_at.isoformat()}: {len(names)} models, "
                     f"{batch.meta['online']} online, {landed.rows} answers landed, {landed.quarantined} quarantined")
    return dg.MaterializeResult(metadata=_metadata(batch, landed, started),
                                check_results=[completeness_check(batch, len(names))])


def completeness_check(batch: Batch, tracked: int) -> dg.AssetCheckResult:
    """cbhours_live_complete: passed, or a warning naming the models that got no answer and why."""
    missing = batch.meta.get("missing_models") or []
    if not missing:
        return dg.AssetCheckResult(check_name="cbhours_live_complete", passed=True,
                                   metadata={"models": tracked, "models_without_answer": 0})
    refused, reason = len(batch.rejects), redact(batch.rejects[0].reason)
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    text = (f"{len(missing)} of {tracked} tracked models got no answer this cycle ({refused} get_live "
            f"request(s) refused: {reason}): {shown}. The refused answers are in raw.quarantine; "
            "the next cycle asks again.")
    return dg.AssetCheckResult(check_name="cbhours_live_complete", passed=False, severity=dg.AssetCheckSeverity.WARN,
                               description=text, metadata={"models": tracked, "models_without_answer": len(missing),
                                                           "missing_models": ", ".join(missing[:100]),
                                                           "first_reason": reason})


# The partitions start on a fixed day, so the definitions are the same on any day: the oldest day CBHours
# still kept when the pipeline began (2026-11-25, less HISTORY_DAYS). CBHours keeps only the last
# HISTORY_DAYS days: the asset skips the older days of a partition range (`askable_days`).
ACTIVITY_START = date(2026, 9, 27)
ACTIVITY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=ACTIVITY_START.isoformat(), end_offset=1,
                                                   timezone="UTC")


class TooOld(ValueError):
    """Every day asked for is older than the HISTORY_DAYS CBHours keeps."""


def askable_days(start: date, end: date, today: date) -> tuple[date, str | None]:
    """The first day of start..end that CBHours still keeps, and the one line saying what was skipped (None:
    nothing); TooOld (one line naming the limit) when none is."""
    oldest = today - timedelta(days=HISTORY_DAYS - 1)
    if end < oldest:
        raise TooOld(f"cbhours activity {start}..{end}: CBHours keeps only the last {HISTORY_DAYS} days "
                     f"(since {oldest}); nothing was asked")
    if start < oldest:
        skipped = f"{start}..{oldest - timedelta(days=1)}"
        return oldest, (f"cbhours activity {skipped} skipped: CBHours keeps only the last {HISTORY_DAYS} days "
                        f"(since {oldest})")
    return start, None


class ActivityConfig(dg.Config):
    online_only: bool = False  # only the models the latest live cycle saw online (today's 3-minute refresh)
    usernames: list[str] | None = None  # instead of the tracked set
    progress: bool = False  # a progress bar on stderr (mhc backfill)


@metadata.landing_asset(
    key=ACTIVITY_KEY,
    group_name="landing_cbhours",
    partitions_def=ACTIVITY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "CBHours `get_activity` (3-minute segments, tzo=0) per tracked model, one daily partition per day "
        "(CBHours keeps the last 60: older days of a range are skipped, with one line saying so): a "
        "backfill of any range is one run with one request per model. Today's "
        "partition is refreshed every 3 minutes for the models online now. `Error Code:300` answers are "
        "landed as facts. One row per answer in `raw.cbhours_activity`."
    ),
)
def cbhours_activity(context: dg.AssetExecutionContext, config: ActivityConfig, postgres: PostgresResource,
                     cbhours: CBHoursResource, tracking: TrackingResource):
    started = time.monotonic()
    window = context.partition_time_window
    today = datetime.now(UTC).date()
    start = window.start.date()
    end = min((window.end - timedelta(seconds=1)).date(), today)
    try:
        start, skipped = askable_days(start, end, today)
    except TooOld as exc:
        raise dg.Failure(description=str(exc)) from None
    if skipped:
        context.log.warning(skipped)
    fetched_at = datetime.now(UTC)
    dsn = postgres.resolved_url()
    with postgres.connect() as conn:
        if config.usernames:
            names = [u.lower() for u in config.usernames]
        elif config.online_only:
            names = online_now(conn, postgres.raw_schema)
        else:
            names = tracked_models(conn, tracking, postgres.raw_schema)
        progress = None
        if config.progress:
            from tqdm import tqdm

            progress = tqdm(total=len(names), unit="model", desc=f"cbhours activity {start}..{end}")
        with cbhours.client(dsn) as client:
            batch = activity_batch(client, cbhours, names, start, end, fetched_at, progress)
        if progress is not None:
            progress.close()
        landed = load.land(conn, batch, schema=postgres.raw_schema)
    context.log.info(f"cbhours activity {start}..{end}: {len(names)} models, {batch.meta['segments']} segments, "
                     f"{batch.meta['not_in_trophy_db']} not in the trophy database, {landed.quarantined} quarantined")
    return dg.MaterializeResult(metadata=_metadata(batch, landed, started))


def iter_days(start: date, end: date) -> Iterator[date]:
    while start <= end:
        yield start
        start += timedelta(days=1)
