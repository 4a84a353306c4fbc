"""StatBate Plus (Premium) API: model and member info and tips, daily and on demand (sources.md §4).

Who is asked
- **daily** (schedule): the tracked models (`cbhours.tracked_models()`: watch list, following, the
  owner's room) get model info and their tips since the last tip already fetched; the members who
  tipped in the owner's room (`tip` events in `raw.events`, most recent first, at most
  `max_members`) get member info.
- **on demand** (`mhc statbate USERNAME`, the `statbate_lookup` job with the username as config):
  model info and member info of that username, and the tips of whichever side StatBate knows.

What lands (three raw tables, one Dagster multi-asset, one row per answer or page, the whole body):
- `raw.statbate_model_info`, `raw.statbate_member_info`: one row per info answer. A 404 (`Model not
  found` / `Member not found`) is a fact about that person: it is landed like any answer (the username
  is in the request URL) and is not a failure.
- `raw.statbate_tips`: one row per tips page (model tips and member tips alike, `per_page=200`), with
  `range[0]`/`range[1]` windows in UTC. The window starts at the last tip time already fetched for that
  person and side (a cursor moved in the same transaction as the pages), so windows overlap by design;
  tips are unique downstream by their own identity (time, model, member, tokens), so a re-fetch adds
  nothing. A tip row with a missing field or a wrong type is quarantined and removed from its page;
  the rest of the page lands.

History is append-only downstream (one row per fetch; see dbt `models/history/statbate/`).

Errors: 401/403 stops the run with a message naming `MHC_STATBATE_TOKEN` (the answer is quarantined,
what was fetched before lands); 429 and 5xx are retried by the HTTP layer (Retry-After honoured);
a body that is not JSON, or JSON of the wrong shape, is quarantined with its reason and the run goes
on with the next person. At most 120 requests a minute across every process (a limiter shared
through PostgreSQL). The token is a registered secret: it is sent only in the `Authorization`
header and is redacted from every log line, error, table and metadata value.
"""


import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import dagster as dg

from mhc_pipeline import load, metadata
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.http import AuthError, HttpClient, SharedRateLimiter, SourceError
from mhc_pipeline.load import Batch, FieldRule, Reject, validate
from mhc_pipeline.resources import HTTP_SETTINGS, PostgresResource, from_settings
from mhc_pipeline.utc import parse_time

SOURCE = "statbate"
MODEL_INFO_TABLE = "statbate_model_info"
MEMBER_INFO_TABLE = "statbate_member_info"
TIPS_TABLE = "statbate_tips"
TABLES = (MODEL_INFO_TABLE, MEMBER_INFO_TABLE, TIPS_TABLE)
MODEL_INFO_KEY = dg.AssetKey(["raw", MODEL_INFO_TABLE])
MEMBER_INFO_KEY = dg.AssetKey(["raw", MEMBER_INFO_TABLE])
TIPS_KEY = dg.AssetKey(["raw", TIPS_TABLE])
KEYS = (MODEL_INFO_KEY, MEMBER_INFO_KEY, TIPS_KEY)
PER_PAGE = 200  # the API's maximum
MAX_PAGES = 1000  # per person and window: a guard against a pagination that never ends
TOKEN_HELP = ("create a token at https://plus.statbate.com/api/tokens (Studio Plus subscription) and set "
              "MHC_STATBATE_TOKEN")
_RANGE_FORMAT = "%Y-%m-%d %H:%M:%S"
NUM = (int, float)

MODEL_INFO_SCHEMA = {
    "name": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "rid": FieldRule((int,)),
    "gender": FieldRule((int,)),
    "rank": FieldRule((int,)),
    "sessions": FieldRule((dict,)),
    "income": FieldRule((dict,)),
    "tags": FieldRule((list,), item_type=dict),
}
MEMBER_INFO_SCHEMA = {
    "name": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "did": FieldRule((int,)),
    "first_message_date": FieldRule((str,)),
    "first_tip_date": FieldRule((str,)),
    "last_tip_date": FieldRule((str,)),
    "last_tip_amount": FieldRule((int,)),
    "last_tip_to": FieldRule((str,)),
    "models_messaged_2weeks": FieldRule((int,)),
    "models_messaged_2weeks_list": FieldRule((list,), item_type=str),
    "models_tipped_2weeks": FieldRule((int,)),
    "models_tipped_2weeks_list": FieldRule((list,), item_type=str),
    "per_day_tokens": FieldRule((list,), item_type=dict),
    "all_time_tokens": FieldRule((int,)),
}
MODEL_TIP_SCHEMA = {  # GET /model/{site}/{name}/tips: the tipper is `name`
    "time": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "name": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "did": FieldRule((int,)),
    "tokens": FieldRule((int,), required=True, nullable=False),
    "usd": FieldRule(NUM),
}
MEMBER_TIP_SCHEMA = {  # GET /members/{site}/{name}/tips: the receiver is `model`
    "time": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "model": FieldRule((str,), required=True, nullable=False, nonempty=True),
    "rid": FieldRule((int,)),
    "tokens": FieldRule((int,), required=True, nullable=False),
    "usd": FieldRule(NUM),
}


class StatBateAuthError(RuntimeError):
    """StatBate refused the token."""


class StatBateResource(dg.ConfigurableResource):
    """The StatBate Plus API. `token` is a secret (Bearer header only, redacted everywhere)."""

    url: str  # base, e.g. https://plus.statbate.com/api
    token: str
    site: str = "chaturbate"
    max_per_minute: int = 120  # the API allows 120 per account
    tips_days: int = 30  # first window of a person's tips; later windows start at the last tip fetched
    max_members: int = 500  # members (owner's tippers) asked about per daily run
    timeout: int = 30
    retries: int = 5

    def client(self, dsn: str) -> HttpClient:
        limiter = SharedRateLimiter(dsn, key=f"{SOURCE}:{self.url}", max_rps=self.max_per_minute / 60.0)
        return HttpClient(SOURCE, timeout=self.timeout, retries=self.retries, limiter=limiter,
                          secrets=[self.token], headers={"Authorization": f"Bearer {self.token}"})

    def endpoint(self, kind: str, name: str, what: str) -> str:
        """kind: 'model' or 'member'; what: 'info' or 'tips'."""
        path = "model" if kind == "model" else "members"
        return f"{self.url.rstrip('/')}/{path}/{quote(self.site)}/{quote(name.lower())}/{what}"


def resource_from_env() -> StatBateResource:
    return from_settings(StatBateResource, url="MHC_STATBATE_URL", token="MHC_STATBATE_TOKEN",
                         max_per_minute="MHC_STATBATE_MAX_PER_MINUTE", tips_days="MHC_STATBATE_TIPS_DAYS",
                         max_members="MHC_STATBATE_MAX_MEMBERS", **HTTP_SETTINGS)


# ---------------------------------------------------------------------------------------------------
def parse_statbate_time(value: str) -> datetime:
    """A StatBate date-time: `YYYY-MM-DD HH:MM:SS` (UTC, we send timezone=UTC) or ISO-8601 (`Z`/offset)."""
    text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def tippers(conn, owner: str, limit: int, schema: str = "raw") -> list[str]:
    """The people who tipped in the owner's room (the Events API's `tip` events), most recent first."""
    load.ensure_raw_table(conn, "events", schema)
    with conn.cursor() as cur:
        cur.execute(
            f"""select lower(payload->'object'->'user'->>'username') as username
                  from {schema}.events
                 where payload->>'method' = 'tip'
                   and coalesce(payload->'object'->'user'->>'username', '') <> ''
                   and lower(payload->'object'->'user'->>'username') <> %(owner)s
                 group by 1
                 order by max(fetched_at) desc, 1
                 limit %(limit)s""",
            {"owner": owner.lower(), "limit": limit},
        )
        names = [r[0] for r in cur.fetchall()]
    conn.commit()
    return names


def cursor_name(kind: str, name: str) -> str:
    return f"statbate:{kind}_tips:{name.lower()}"


@dataclass
class Collected:
    """What one run fetched: a batch per raw table, the tip cursors to move, and the counts."""

    model_info: Batch
    member_info: Batch
    tips: Batch
    cursors: dict[str, str] = field(default_factory=dict)
    auth_error: AuthError | None = None
    found: dict[str, dict[str, bool]] = field(default_factory=lambda: {"model": {}, "member": {}})

    def batches(self) -> list[Batch]:
        return [self.model_info, self.member_info, self.tips]


def _reject(batch: Batch, exc: SourceError, key: str) -> None:
    batch.rejects.append(Reject(str(exc), body=exc.body or None, key=key))


def fetch_info(client: HttpClient, res: StatBateResource, kind: str, name: str, batch: Batch) -> bool | None:
    """One info answer into `batch`: True (found), False (404: a fact, landed), None (rejected)."""
    url = res.endpoint(kind, name, "info")
    key = f"{kind} {name} info"
    try:
        fetched = client.get_json(url, params={"timezone": "UTC"}, ok=(200, 404))
    except AuthError:
        raise
    except SourceError as exc:
        _reject(batch, exc, key)
        return None
    return info_answer(fetched.data, fetched.status, kind, key, fetched.url, batch)


def info_answer(data: Any, status: int, kind: str, key: str, request: str, batch: Batch) -> bool | None:
    """One info answer (HTTP `status`) into `batch`: True (found), False (404 `{"error": ...}`: a fact,
    landed), None (rejected with its reason)."""
    if status == 404:
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            batch.records.append(data)
            batch.requests.append(request)
            batch.meta["not_found"] = batch.meta.get("not_found", 0) + 1
            return False
        batch.rejects.append(Reject("HTTP 404 without the documented {\"error\": ...} body", payload=data, key=key))
        return None
    schema = MODEL_INFO_SCHEMA if kind == "model" else MEMBER_INFO_SCHEMA
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        batch.rejects.append(Reject("expected an object with a 'data' object", payload=data, key=key))
        return None
    problem = validate(data["data"], schema)
    if problem:
        batch.rejects.append(Reject(problem, payload=data, key=key))
        return None
    batch.records.append(data)
    batch.requests.append(request)
    batch.meta["found"] = batch.meta.get("found", 0) + 1
    return True


def fetch_tips(client: HttpClient, res: StatBateResource, kind: str, name: str, start: datetime, end: datetime,
               batch: Batch) -> datetime | None:
    """Every page of `name`'s tips in [start, end] into `batch`. Returns the newest tip time seen (or
    `start` when none) once every page was read; None when a page failed (the cursor then stays)."""
    url = res.endpoint(kind, name, "tips")
    newest = start
    page = 1
    while page <= MAX_PAGES:
        params = {"range[0]": start.strftime(_RANGE_FORMAT), "range[1]": end.strftime(_RANGE_FORMAT),
                  "timezone": "UTC", "per_page": PER_PAGE, "page": page}
        key = f"{kind} {name} tips page {page}"
        try:
            fetched = client.get_json(url, params=params)
        except AuthError:
            raise
        except SourceError as exc:
            _reject(batch, exc, key)
            return None
        data = fetched.data
        read = tips_page(data, kind, key, fetched.url, batch)
        if read is None:
            return None
        last_page, page_newest = read
        newest = max(newest, page_newest or newest)
        if not data["data"] or page >= last_page:
            return newest
        page += 1
    batch.rejects.append(Reject(f"more than {MAX_PAGES} pages of tips: stopped", key=f"{kind} {name} tips"))
    return None


def tips_page(data: Any, kind: str, key: str, request: str,
              batch: Batch) -> tuple[int, datetime | None] | None:
    """One tips page into `batch` (bad tips quarantined and removed from it, the rest of the page lands):
    its `last_page` and the time of its newest good tip (None without one); None when the page has the
    wrong shape (rejected)."""
    meta = data.get("meta") if isinstance(data, dict) else None
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list) or not isinstance(pagination, dict) \
            or not isinstance(pagination.get("last_page"), int):
        batch.rejects.append(Reject("expected {data: [...], meta: {pagination: {last_page: int, ...}}}",
                                    payload=data, key=key))
        return None
    schema = MODEL_TIP_SCHEMA if kind == "model" else MEMBER_TIP_SCHEMA
    good, times = [], []
    for i, tip in enumerate(data["data"]):
        problem = validate(tip, schema)
        if problem is None:
            try:
                times.append(parse_statbate_time(tip["time"]))
            except ValueError:
                problem = f"field 'time' is not a date-time: {tip['time'][:40]!r}"
        if problem:
            batch.rejects.append(Reject(problem, payload=tip, key=f"{key} row {i}"))
            continue
        good.append(tip)
    batch.meta["tips"] = batch.meta.get("tips", 0) + len(good)
    batch.meta["pages"] = batch.meta.get("pages", 0) + 1
    batch.records.append({**data, "data": good} if len(good) != len(data["data"]) else data)
    batch.requests.append(request)
    return pagination["last_page"], max(times, default=None)


def collect(client: HttpClient, res: StatBateResource, *, models: list[str], members: list[str],
            lookup: bool, fetched_at: datetime, cursors: Callable[[str], str | None], scope: str,
            progress: Callable[[str], None] | None = None) -> Collected:
    """Fetch info for `models` (as models) and `members` (as members), and the tips of every model found
    (and, with `lookup`, of every member found) since its cursor. Stops at the first 401/403."""
    out = Collected(
        model_info=Batch(source=SOURCE, table=MODEL_INFO_TABLE, fetched_at=fetched_at, scope=scope),
        member_info=Batch(source=SOURCE, table=MEMBER_INFO_TABLE, fetched_at=fetched_at, scope=scope),
        tips=Batch(source=SOURCE, table=TIPS_TABLE, fetched_at=fetched_at, scope=scope),
    )
    first_window = fetched_at - timedelta(days=res.tips_days)
    work = [("model", n) for n in models] + [("member", n) for n in members]
    try:
        for kind, name in work:
            batch = out.model_info if kind == "model" else out.member_info
            found = fetch_info(client, res, kind, name, batch)
            out.found[kind][name] = bool(found)
            if lookup:  # what `mhc statbate USERNAME` prints
                batch.meta["answer"] = {True: "found", False: "not found", None: "rejected (quarantined)"}[found]
            if found and (kind == "model" or lookup):
                cname = cursor_name(kind, name)
                held = cursors(cname)
                start = min(parse_time(held), fetched_at) if held else first_window
                newest = fetch_tips(client, res, kind, name, start, fetched_at, out.tips)
                if newest is not None:
                    out.cursors[cname] = newest.isoformat()
            if progress is not None:
                progress(name)
    except AuthError as exc:
        out.auth_error = exc
    for batch in out.batches():
        batch.meta.update(requests=client.requests, retries=client.retries)
    out.model_info.meta["models"] = len(models)
    out.member_info.meta["members"] = len(members)
    return out


def land_all(conn, collected: Collected, schema: str = "raw") -> dict[str, load.Landed]:
    """Land the three batches (each in its own transaction; the tip cursors move with the tips)."""
    landed = {}
    for batch in collected.batches():
        extra = None
        if batch is collected.tips and collected.cursors:
            setters = [load.set_cursor(n, v, schema) for n, v in sorted(collected.cursors.items())]

            def extra(cur, setters=setters):
                for apply in setters:
                    apply(cur)

        landed[batch.table] = load.land(conn, batch, schema=schema, extra_sql=extra)
    return landed


def _metadata(batch: Batch, landed: load.Landed, started: float) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rows_landed": landed.rows,
        "rows_quarantined": landed.quarantined,
        "already_landed": landed.already_landed,
        "first_quarantine_reasons": metadata.reasons_md(r.reason for r in batch.rejects),
        "fetched_at": batch.fetched_at.isoformat(),
        "seconds": round(time.monotonic() - started, 3),
    }
    meta.update({k: v for k, v in batch.meta.items() if isinstance(v, (int, float, str))})
    meta.setdefault("pages", len(batch.requests))  # `requests` counts the whole run's (one shared client)
    return metadata.landing(meta)


def run(conn, res: StatBateResource, dsn: str, *, fetched_at: datetime, username: str | None,
        tracking: cbhours.TrackingResource, schema: str = "raw") -> tuple[Collected, dict[str, load.Landed]]:
    """One daily run (username None) or one on-demand look-up, landed. Raises StatBateAuthError (after
    landing what was fetched and quarantining the refused answer) when the token is refused."""
    for table in TABLES:
        load.ensure_raw_table(conn, table, schema)
    if username:
        name = username.strip().lower()
        models, members, lookup, scope = [name], [name], True, f"lookup:{name}"
    else:
        models = cbhours.tracked_models(conn, tracking, schema)
        members = tippers(conn, tracking.owner, res.max_members, schema)
        lookup, scope = False, "daily"

    def cursors(name: str) -> str | None:
        return load.get_cursor(conn, name, schema)

    with res.client(dsn) as client:
        collected = collect(client, res, models=models, members=members, lookup=lookup, fetched_at=fetched_at,
                            cursors=cursors, scope=scope)
    landed = land_all(conn, collected, schema)
    if collected.auth_error is not None:
        exc = collected.auth_error
        load.quarantine_response(conn, source=SOURCE, table=MODEL_INFO_TABLE, fetched_at=fetched_at,
                                 request=exc.url, reason=str(exc), body=exc.body or None, item="auth",
                                 scope=scope, schema=schema)
        raise StatBateAuthError(f"StatBate refused the token (HTTP {exc.status}): {TOKEN_HELP}. {exc}")
    return collected, landed


# ---------------------------------------------------------------------------------------------------
class StatBateConfig(dg.Config):
    username: str | None = None  # on demand: this one username (model and member side) instead of the daily set
    fetched_at: str | None = None  # ISO-8601 fetch time; default now (tests and replays pin it)


_DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))
_COMMON = {"group_name": "landing_statbate", "kinds": {"python", "postgres"}, "owners": metadata.OWNERS,
           "freshness_policy": _DAILY}


@dg.multi_asset(
    name="statbate_landing",
    specs=[
        dg.AssetSpec(MODEL_INFO_KEY, description=(
            "StatBate model info for the tracked models (daily) or one username (on demand): one row per "
            "answer in `raw.statbate_model_info`, the whole body as jsonb; a 404 `Model not found` is "
            "landed as a fact."), **_COMMON),
        dg.AssetSpec(MEMBER_INFO_KEY, description=(
            "StatBate member info for the people who tipped in the owner's room (daily) or one username "
            "(on demand): one row per answer in `raw.statbate_member_info`; a 404 `Member not found` is "
            "landed as a fact."), **_COMMON),
        dg.AssetSpec(TIPS_KEY, description=(
            "StatBate tips (model tips of the tracked models; on demand also member tips), every page "
            "(per_page 200) of the window since the last tip fetched: one row per page in "
            "`raw.statbate_tips`. Tips are unique downstream by (time, model, member, tokens)."), **_COMMON),
    ],
    can_subset=False,
)
def statbate_landing(context: dg.AssetExecutionContext, config: StatBateConfig, postgres: PostgresResource,
                     statbate: StatBateResource, tracking: cbhours.TrackingResource):
    started = time.monotonic()
    fetched_at = parse_time(config.fetched_at)
    with postgres.connect() as conn:
        try:
            collected, landed = run(conn, statbate, postgres.resolved_url(), fetched_at=fetched_at,
                                    username=config.username, tracking=tracking, schema=postgres.raw_schema)
        except StatBateAuthError as exc:
            raise dg.Failure(description=str(exc)) from None
    tips = collected.tips.meta.get("tips", 0)
    what = f"look-up of {config.username!r}" if config.username else "daily run"
    context.log.info(
        f"statbate {what} {fetched_at.isoformat()}: {len(collected.found['model'])} model(s) "
        f"({sum(collected.found['model'].values())} found), {len(collected.found['member'])} member(s) "
        f"({sum(collected.found['member'].values())} found), {tips} tips, "
        f"{sum(x.quarantined for x in landed.values())} quarantined")
    for key, batch in zip(KEYS, collected.batches()):
        yield dg.MaterializeResult(asset_key=key, metadata=_metadata(batch, landed[batch.table], started))
