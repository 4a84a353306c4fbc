"""Chaturbate Affiliate API: every online room, one paged crawl per cycle (sources.md §1).

One crawl is one snapshot: `fetched_at` (= `observed_at` downstream) is the crawl's start time, and a
username seen twice inside a crawl (the list moves while it is paged) lands once. A page that is not
JSON (a Cloudflare page) or has the wrong shape is quarantined and fails the crawl: a partial crawl
would make the missing rooms look offline. A bad room (missing `username`, a wrong type) is quarantined
with its reason while the rest of the crawl lands.
"""


import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import orjson

from mhc_pipeline import load, metadata
from mhc_pipeline.http import HttpClient, SourceError
from mhc_pipeline.load import Batch, FieldRule, Reject
from mhc_pipeline.resources import HTTP_SETTINGS, PostgresResource, from_settings
from mhc_pipeline.utc import parse_time

SOURCE = "affiliate"
TABLE = "affiliate_onlinerooms"
ASSET_KEY = dg.AssetKey(["raw", TABLE])
MAX_LIMIT = 500

STR, INT, BOOL, LIST = (str,), (int,), (bool,), (list,)
ROOM_SCHEMA: dict[str, FieldRule] = {
    "username": FieldRule(STR, required=True, nullable=False, nonempty=True),
    "gender": FieldRule(STR, required=True, nullable=False),
    "current_show": FieldRule(STR, required=True, nullable=False),
    "num_users": FieldRule(INT, required=True, nullable=False),
    "num_followers": FieldRule(INT, required=True, nullable=False),
    "seconds_online": FieldRule(INT, required=True, nullable=False),
    "slug": FieldRule(STR),
    "display_name": FieldRule(STR),
    "age": FieldRule(INT),
    "birthday": FieldRule(STR),
    "location": FieldRule(STR),
    "country": FieldRule(STR),
    "spoken_languages": FieldRule(STR),
    "tags": FieldRule(LIST, item_type=str),
    "room_subject": FieldRule(STR),
    "is_hd": FieldRule(BOOL),
    "is_new": FieldRule(BOOL),
    "image_url": FieldRule(STR),
    "image_url_360x270": FieldRule(STR),
    "chat_room_url": FieldRule(STR),
    "chat_room_url_revshare": FieldRule(STR),
    "iframe_embed": FieldRule(STR),
    "iframe_embed_revshare": FieldRule(STR),
}


class AffiliateResource(dg.ConfigurableResource):
    """The Affiliate API endpoint and its settings (MHC_AFFILIATE_*). `wm` identifies the affiliate
    account; `client_ip` is end-user data and is never logged or stored (it is redacted)."""

    url: str
    wm: str
    client_ip: str = "request_ip"
    page_size: int = MAX_LIMIT
    max_per_minute: int = 120  # 0 = no limit
    timeout: int = 30
    retries: int = 5

    def client(self) -> HttpClient:
        secrets = [self.client_ip] if self.client_ip != "request_ip" else []
        return HttpClient(SOURCE, max_rps=self.max_per_minute / 60.0, timeout=self.timeout, retries=self.retries,
                          secrets=secrets)


def resource_from_env() -> AffiliateResource:
    return from_settings(AffiliateResource, url="MHC_AFFILIATE_URL", wm="MHC_AFFILIATE_WM",
                         client_ip="MHC_AFFILIATE_CLIENT_IP", page_size="MHC_AFFILIATE_PAGE_SIZE",
                         max_per_minute="MHC_AFFILIATE_MAX_PER_MINUTE", **HTTP_SETTINGS)


# ---------------------------------------------------------------------------------------------------
class CrawlFailed(Exception):
    """A page could not be used; nothing of the crawl landed (the page is kept in raw.quarantine)."""

    def __init__(self, message: str, *, page: int, request: str, reason: str, body: str | None):
        super().__init__(message)
        self.page, self.request, self.reason, self.body = page, request, reason, body


def _rooms_of(data: Any) -> tuple[list[Any], int | None]:
    """`results` and `count` of one page; a bare array (the legacy endpoint) is accepted too."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        count = data.get("count")
        return data["results"], count if isinstance(count, int) and not isinstance(count, bool) else None
    keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
    raise ValueError(f"expected an object with a 'results' list, got {keys}")


def _prepare(data: Any) -> list[tuple[str | None, Any, str | None]]:
    """One page's rooms as (username, JSON bytes, None) or (None, room, reason). Runs in the fetching
    thread, so validation and serialisation overlap the loader's COPY."""
    rooms, _ = _rooms_of(data)
    out: list[tuple[str | None, Any, str | None]] = []
    for room in rooms:
        reason = load.validate(room, ROOM_SCHEMA)
        if reason:
            out.append((None, room, reason))
        else:
            out.append((room["username"].strip().lower(), orjson.dumps(room), None))
    return out


def _rooms(batch: Batch, pages: Iterable[tuple[str, Any, list]]) -> Iterator[tuple[bytes, str]]:
    """The valid rooms of one crawl, each username once (shared by live crawls and replays)."""
    seen: set[str] = set()
    batch.meta.setdefault("duplicates", 0)
    batch.meta.setdefault("pages", 0)
    for page_no, (request, _data, prepared) in enumerate(pages):
        batch.meta["pages"] += 1
        for row_no, (name, item, reason) in enumerate(prepared):
            if reason is not None:
                batch.rejects.append(Reject(reason, payload=item, key=f"page {page_no} row {row_no}"))
                continue
            if name in seen:
                batch.meta["duplicates"] += 1
                continue
            seen.add(name)
            yield item, request


def _pages(res: AffiliateResource, client: HttpClient, fetched_at: datetime) -> Iterator[tuple[str, Any, list]]:
    """Every page of one crawl, in order. After the first page (which tells `count`), the next pages
    are fetched two at a time ahead of the consumer (within the rate limit), so HTTP overlaps loading."""
    limit = max(1, min(int(res.page_size), MAX_LIMIT))

    def fetch(page_no: int, offset: int) -> tuple[str, Any, int, int | None]:
        params = {"wm": res.wm, "client_ip": res.client_ip, "format": "json", "limit": limit, "offset": offset}
        fetched = None
        try:
            fetched = client.get_json(res.url, params=params)
            _, count = _rooms_of(fetched.data)
            prepared = _prepare(fetched.data)
        except (SourceError, ValueError) as exc:
            request = exc.url if isinstance(exc, SourceError) else fetched.url
            body = exc.body if isinstance(exc, SourceError) else fetched.text
            reason = f"page {page_no} (offset {offset}): {exc}"
            raise CrawlFailed(
                f"Affiliate crawl at {fetched_at.isoformat()} failed on {reason}. Nothing of this crawl was "
                "landed; the response is kept in raw.quarantine.",
                page=page_no, request=request, reason=reason, body=body or None,
            ) from None
        return fetched.url, fetched.data, prepared, count

    url, data, prepared, count = fetch(0, 0)
    n = len(prepared)
    yield url, data, prepared
    if not n or count is None:
        return
    page_no, offset = 1, limit
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="affiliate-page") as pool:
        while offset < count and page_no <= 1000:
            ahead = [(p, o) for p, o in zip(range(page_no, page_no + 1000), range(offset, count, limit))]
            futures = [pool.submit(fetch, p, o) for p, o in ahead[:2]]
            queued = 2
            for i in range(len(ahead)):
                url, data, prepared, new_count = futures[i].result()
                if queued < len(ahead):
                    futures.append(pool.submit(fetch, *ahead[queued]))
                    queued += 1
                yield url, data, prepared
                if not prepared:
                    return
                count = new_count if new_count is not None else count
            page_no, offset = page_no + len(ahead), offset + limit * len(ahead)
            # the list may have grown while it was paged: go on until offset >= the latest count


def crawl_batch(res: AffiliateResource, client: HttpClient, fetched_at: datetime) -> Batch:
    """A lazy batch: the crawl happens while the loader consumes it."""
    batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at)
    batch.stream = _rooms(batch, _pages(res, client, fetched_at))
    return batch


def land_crawl(conn, res: AffiliateResource, fetched_at: datetime, *, schema: str = "raw") -> tuple[Batch, load.Landed]:
    """Crawl once and land it (streamed). A bad page is quarantined and raises `CrawlFailed`."""
    started = time.monotonic()
    with res.client() as client:
        batch = crawl_batch(res, client, fetched_at)
        try:
            landed = load.land(conn, batch, schema=schema)
        except CrawlFailed as exc:
            load.quarantine_response(conn, source=SOURCE, table=TABLE, fetched_at=fetched_at, request=exc.request,
                                     reason=exc.reason, body=exc.body, item=f"page {exc.page}", schema=schema)
            raise
        batch.meta.update(retries=client.retries, requests=client.requests,
                          seconds=round(time.monotonic() - started, 3))
    return batch, landed


def crawl(res: AffiliateResource, fetched_at: datetime, conn=None) -> Batch:
    """Crawl once into an in-memory batch (records listed); a bad page is quarantined when `conn` is
    given, and raises `CrawlFailed`."""
    with res.client() as client:
        batch = crawl_batch(res, client, fetched_at)
        try:
            pairs = list(batch.stream or [])
        except CrawlFailed as exc:
            if conn is not None:
                load.quarantine_response(conn, source=SOURCE, table=TABLE, fetched_at=fetched_at,
                                         request=exc.request, reason=exc.reason, body=exc.body,
                                         item=f"page {exc.page}")
            raise
        batch.stream = None
        batch.records = [orjson.loads(r) for r, _ in pairs]
        batch.requests = [q for _, q in pairs]
        batch.meta.update(retries=client.retries, requests=client.requests)
    return batch


def batch_from_file(path: Path, fetched_at: datetime) -> Batch:
    """A saved response (one page, a list of pages, or the legacy bare array) as a batch, exactly as a
    live crawl at `fetched_at` would have landed it."""
    batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at, meta={"replayed_from": path.name})
    data = load.read_saved_json(path)
    request = f"file://{path.name}"
    if isinstance(data, list) and any(isinstance(p, dict) and "results" in p for p in data):
        # a list of saved pages: every page must be one, as every page of a live crawl must be
        for n, page in enumerate(data):
            try:
                _rooms_of(page if isinstance(page, dict) else None)
            except ValueError as exc:
                raise ValueError(f"{path.name}: page {n} of {len(data)} is not an Affiliate page ({exc}); fix or "
                                 "remove that page and land the file again") from None
        pages = [(request, page, _prepare(page)) for page in data]
    else:
        try:
            pages = [(request, data, _prepare(data))]
        except ValueError as exc:
            raise ValueError(f"{path.name} is not a saved Affiliate answer ({exc}): expected one page "
                             "{\"results\": [...], \"count\": N}, a list of pages, or a bare array of rooms") from None
    pairs = list(_rooms(batch, pages))
    batch.records = [orjson.loads(r) for r, _ in pairs]
    batch.requests = [q for _, q in pairs]
    return batch


# ---------------------------------------------------------------------------------------------------
class LandConfig(dg.Config):
    fetched_at: str | None = None  # ISO-8601; default: now (a replay or test pins it)


def landing_metadata(batch: Batch, landed: load.Landed) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rows_landed": landed.rows,
        "rows_quarantined": landed.quarantined,
        "first_quarantine_reasons": metadata.reasons_md(r.reason for r in batch.rejects),
        "already_landed": landed.already_landed,
        "batch_id": str(landed.batch_id),
        "fetched_at": batch.fetched_at.isoformat(),
    }
    for key in ("pages", "duplicates", "retries", "requests", "count_reported", "seconds"):
        if batch.meta.get(key) is not None:
            meta[key] = batch.meta[key]
    return meta


@metadata.landing_asset(
    key=ASSET_KEY,
    group_name="landing_affiliate",
    description=(
        "Every online room from the Chaturbate Affiliate API (`onlinerooms`), one paged crawl per cycle. "
        "One row per room per crawl in `raw.affiliate_onlinerooms`, the whole room object as jsonb, with "
        "the crawl's time (`fetched_at` = observed_at), its batch id and the redacted page URL. Bad rooms "
        "go to `raw.quarantine` with their reason."
    ),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=10)),
)
def affiliate_onlinerooms(
    context: dg.AssetExecutionContext, config: LandConfig, postgres: PostgresResource, affiliate: AffiliateResource
):
    fetched_at = parse_time(config.fetched_at)
    with postgres.connect() as conn:
        try:
            batch, landed = land_crawl(conn, affiliate, fetched_at, schema=postgres.raw_schema)
        except CrawlFailed as exc:
            raise dg.Failure(description=str(exc), metadata={"quarantined_page": exc.page,
                                                             "reason": exc.reason}) from None
    meta = landing_metadata(batch, landed)
    context.log.info(
        f"affiliate crawl {fetched_at.isoformat()}: {landed.rows} rooms landed, {landed.quarantined} quarantined, "
        f"{batch.meta.get('duplicates', 0)} duplicates dropped, {batch.meta.get('pages')} pages"
        + (" (batch was already landed)" if landed.already_landed else "")
    )
    return dg.MaterializeResult(metadata=metadata.landing(meta))
