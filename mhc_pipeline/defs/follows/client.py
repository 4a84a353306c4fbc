"""The owner's following / followers lists (sources.md §6), live or imported, into one raw table.

Two ways in, one table (`raw.follow_lists`, one row per captured list):
- **live** (the daily asset): the followed-rooms JSON endpoints with the owner's cookies
  (`MHC_FOLLOWS_SESSIONID`, `MHC_FOLLOWS_CSRFTOKEN`: secrets, only ever in the Cookie header):
  `online_followed_rooms` for the reported total, then the paged room-list (`follow=true`, online and
  `offline=true`, 90 a page). Followers: the followers page (HTML, `?page=N`), parsed for user links
  and page links.
- **import** (`mhc import-follows following|followers FILE`): a saved page (HTML), a saved JSON answer
  (or a list of them), or an export file (a JSON list or one username a line), for people who will not
  hand over cookies. The same validation and the same loader as the live fetch.

A list is **complete** only when nothing went wrong: no page failed, no login or Cloudflare page (nor a
request sent away to another page: an expired session goes to the login page or the home page), no
entry was rejected, and the names add up to the total the source reported (each paged list to its
`total_count`, both together to `online_followed_rooms.total`). The followers page shows no count
(sources.md §6.4): it is complete when every page answered, up to a page with no link to a next one,
the page after that lists nobody new (so page links the client could not read cannot cut the list
short), and it listed somebody; a count, when a page shows one, must add up too. An export file
without a total is complete only when the operator says so (`--complete`). Every list is landed,
complete or not, with its verdict and its problems; dbt diffs only complete lists (an incomplete one
changes nothing: the original system's mass false unfollows came from diffing partial scrapes,
original-system.md §1.6).
Rejected entries and unusable pages are kept in `raw.quarantine` with their reason.
"""

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from mhc_pipeline import load, metadata
from mhc_pipeline.defs.follows.lists import (  # noqa: F401 (TABLE, import_file: used through this module too)
    CLOUDFLARE_HELP,
    DIRECTIONS,
    FOLLOWERS_PATH,
    LOGIN_HELP,
    ROOM_SCHEMA,
    SOURCE,
    TABLE,
    Capture,
    add_rooms,
    html_blocked,
    import_file,
    links_to_page,
    parse_html,
)
from mhc_pipeline.http import Fetched, HttpClient, SourceError, redact
from mhc_pipeline.load import Reject
from mhc_pipeline.resources import PostgresResource, from_settings
from mhc_pipeline.utc import parse_time

# the live fetch; the lists, their verdicts and the import of files: lists.py
ASSET_KEY = dg.AssetKey(["raw", TABLE])
ONLINE_PATH = "/follow/api/online_followed_rooms/"
ROOMLIST_PATH = "/api/ts/roomlist/room-list/"
PAGE_LIMIT = 90
MAX_PAGES = 200  # per list: 18,000 followed rooms, or 10,000 followers at 50 a page
SESSION_SETTING = "MHC_FOLLOWS_SESSIONID"


class FollowsResource(dg.ConfigurableResource):
    """The Chaturbate website as the owner's logged-in browser sees it. The cookies are secrets: they are
    registered for redaction and only ever travel in the Cookie header of a request."""

    url: str  # base, e.g. https://chaturbate.com
    sessionid: str
    csrftoken: str
    max_per_minute: int = 20
    timeout: int = 30
    retries: int = 3

    def client(self) -> HttpClient:
        cookie = f"sessionid={self.sessionid}; csrftoken={self.csrftoken}; agreeterms=1"
        base = self.url.rstrip("/")
        return HttpClient(SOURCE, max_rps=self.max_per_minute / 60.0, timeout=self.timeout, retries=self.retries,
                          secrets=[self.sessionid, self.csrftoken],
                          headers={"Cookie": cookie, "X-Requested-With": "XMLHttpRequest",
                                   "Referer": f"{base}/followed-cams/",
                                   "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                                 "(KHTML, like Gecko) Chrome/126.0 Safari/537.36"})

    def endpoint(self, path: str) -> str:
        return self.url.rstrip("/") + path


def resource_from_env() -> FollowsResource:
    return from_settings(FollowsResource, url="MHC_FOLLOWS_URL", sessionid="MHC_FOLLOWS_SESSIONID",
                         csrftoken="MHC_FOLLOWS_CSRFTOKEN", max_per_minute="MHC_FOLLOWS_MAX_PER_MINUTE",
                         timeout="MHC_HTTP_TIMEOUT")


class SentAway(SourceError):
    """The website answered a list request from another page (a redirect): nobody is logged in."""


def _request(client: HttpClient, res: FollowsResource, path: str, params: dict | None = None,
             headers: dict | None = None) -> Fetched:
    """One request of a list. Raises `SentAway` when the answer comes from another page than the one asked
    for: an expired session is redirected to the login page or to the home page (whose room links would
    otherwise read as a list)."""
    fetched = client.request("GET", res.endpoint(path), params=params, headers=headers)
    landed = urlsplit(fetched.url).path
    if landed.rstrip("/") != path.rstrip("/"):
        raise SentAway(SOURCE, f"sent to {landed} instead of {path} (HTTP {fetched.status})",
                       status=fetched.status, url=fetched.url, body=fetched.text)
    return fetched


def _get_json(client: HttpClient, res: FollowsResource, path: str, params: dict | None = None) -> Fetched:
    """`_request`, then the JSON answer (`SourceError` when the status is not 200 or the body not JSON)."""
    return client.parse(_request(client, res, path, params))


def _blocked_kind(exc: SourceError) -> str | None:
    body = exc.body or ""
    if isinstance(exc, SentAway) or "/auth/login" in exc.url or 'name="password"' in body:
        return "login"
    if "Just a moment" in body or "cf_chl_opt" in body or (exc.status == 403 and "cloudflare" in body.lower()):
        return "cloudflare"  # a challenge, or Cloudflare's block page (an origin 5xx is an ordinary failure)
    return None


def _failed(capture: Capture, what: str, exc: SourceError) -> None:
    kind = _blocked_kind(exc)
    if kind == "login":
        capture.blocked = capture.blocked or "login"
        reason = f"{what}: {LOGIN_HELP}"
    elif kind == "cloudflare":
        capture.blocked = capture.blocked or "cloudflare"
        reason = f"{what}: {CLOUDFLARE_HELP}"
    else:
        reason = f"{what} failed: {exc}"
    capture.problems.append(redact(reason))
    capture.pages.append({"request": exc.url, "status": exc.status, "error": redact(reason)})
    capture.rejects.append(Reject(redact(f"{reason} [{exc}]"), body=exc.body or None, key=what))


def fetch_following(client: HttpClient, res: FollowsResource) -> Capture:
    """The owner's following list: the reported total, then the online and offline room lists, paged."""
    capture = Capture(direction="following", via="api")
    try:
        fetched = _get_json(client, res, ONLINE_PATH)
    except SourceError as exc:
        _failed(capture, "online_followed_rooms", exc)
    else:
        data = fetched.data
        if isinstance(data, dict) and isinstance(data.get("total"), int) and not isinstance(data["total"], bool):
            capture.reported_total = data["total"]
            capture.pages.append({"request": fetched.url, "status": fetched.status, "reported_total": data["total"],
                                  "online": data.get("online")})
        else:
            capture.problems.append("online_followed_rooms: expected an object with an integer 'total'")
            capture.rejects.append(Reject("expected an object with an integer 'total'", payload=data,
                                          key="online_followed_rooms"))
    for list_name, offline in (("online", False), ("offline", True)):
        if capture.blocked == "login":  # every other request would get the login page too
            break
        _page_room_list(client, res, capture, list_name, offline)
    capture.requests, capture.retries = client.requests, client.retries
    return capture


def _page_room_list(client: HttpClient, res: FollowsResource, capture: Capture, list_name: str,
                    offline: bool) -> None:
    offset, seen, total = 0, 0, None
    for _page in range(MAX_PAGES):
        params = {"follow": "true", "limit": PAGE_LIMIT, "offset": offset}
        if offline:
            params["offline"] = "true"
        what = f"{list_name} room list offset {offset}"
        try:
            fetched = _get_json(client, res, ROOMLIST_PATH, params)
        except SourceError as exc:
            _failed(capture, what, exc)
            return
        data = fetched.data
        if (not isinstance(data, dict) or not isinstance(data.get("rooms"), list)
                or not isinstance(data.get("total_count"), int)):
            reason = f"{what}: expected an object with a 'rooms' list and an integer 'total_count'"
            capture.problems.append(reason)
            capture.pages.append({"request": fetched.url, "status": fetched.status, "error": reason})
            capture.rejects.append(Reject(reason, payload=data, key=what))
            return
        total = data["total_count"]
        n = add_rooms(capture, data["rooms"], what, list_name, ROOM_SCHEMA, "username")
        seen += n
        capture.pages.append({"request": fetched.url, "status": fetched.status, "rooms": n,
                              "reported_total": total})
        offset += n
        if n == 0 or offset >= total:
            break
    if total is not None and seen != total:
        capture.problems.append(f"the {list_name} room list gave {seen} rooms but reported total_count {total}")


def fetch_followers(client: HttpClient, res: FollowsResource) -> Capture:
    """The owner's followers: the followers page (HTML), page by page up to a page with no link to the next
    one; then the page after it, which must list nobody new (an empty page, the last page again, or a 404):
    the check that the page links were read right. The real page shows no count (sources.md §6.4); when
    a page shows one, the names must add up to it too."""
    capture = Capture(direction="follower", via="html")
    last = None
    for page in range(1, MAX_PAGES + 1):
        answer = _followers_page(client, res, capture, page)
        if answer is None:
            break
        names, total, has_next, url = answer
        if total is not None:
            capture.reported_total = total
        before = capture.listed
        for name in names:
            capture.add(name, {"list": "followers"})
        capture.pages.append({"request": url, "status": 200,
                              "names": len(names), "reported_total": total, "next_page": has_next})
        if not has_next:
            last = page
            break
        if capture.listed == before:
            capture.problems.append(f"followers page {page} links to page {page + 1} but adds nobody new "
                                    f"({len(names)} names, all on earlier pages)")
            break
    else:
        capture.problems.append(f"the followers list has more than {MAX_PAGES} pages: not read to its end")
    if last is not None:
        after = _followers_page(client, res, capture, last + 1, probe=True)
        if after is not None:
            extra = sorted(set(after[0]) - set(capture.users))
            capture.pages.append({"request": after[3],
                                  "names": len(after[0]), "new_names": len(extra), "after_last": True})
            if extra:
                capture.problems.append(
                    f"followers page {last} shows no link to page {last + 1}, but page {last + 1} lists "
                    f"{len(extra)} more people: the page links were not understood, the list is not read to "
                    "its end")
            elif not capture.problems:
                capture.last_page = last
    if capture.last_page is not None and capture.listed == 0 and capture.reported_total is None:
        capture.last_page = None  # a page whose names were not found must not read as "nobody follows"
        capture.problems.append("the followers page lists nobody (no user links found): not taken as an empty "
                                "list")
    capture.requests, capture.retries = client.requests, client.retries
    return capture


def _followers_page(client: HttpClient, res: FollowsResource, capture: Capture, page: int,
                    probe: bool = False) -> tuple[list[str], int | None, bool, str] | None:
    """(names, the count if the page shows one, whether it links to the next page, the URL), or None after
    recording the failure. `probe`: the page after the last, where a 404 means the same as an empty page."""
    what = f"followers page {page}" + (" (after the last)" if probe else "")
    try:
        fetched = _request(client, res, FOLLOWERS_PATH, {"page": page}, {"Accept": "text/html"})
        if probe and fetched.status == 404:
            return [], None, False, fetched.url
        if fetched.status != 200:
            client.parse(fetched)  # raises SourceError with the status and a snippet
        blocked = html_blocked(fetched.text, fetched.url)
        if blocked:
            raise SourceError(SOURCE, blocked, status=fetched.status, url=fetched.url, body=fetched.text)
    except SourceError as exc:
        _failed(capture, what, exc)
        return None
    names, total = parse_html(fetched.text, "follower")
    return names, total, links_to_page(fetched.text, page + 1), fetched.url


# ---------------------------------------------------------------------------------------------------
class FollowsConfig(dg.Config):
    directions: list[str] = ["following", "followers"]
    fetched_at: str | None = None  # ISO-8601; default now (tests and replays pin it)


CHECKS = {"following": "following_list_complete", "follower": "followers_list_complete"}


@metadata.landing_asset(
    key=ASSET_KEY,
    group_name="landing_follows",
    description=(
        "The owner's following list (followed-rooms JSON endpoints: reported total, then the paged online and "
        "offline room lists) and followers list (the followers page), with the owner's session cookies. One "
        "row per captured list in `raw.follow_lists`, complete or not, with its verdict: only complete lists "
        "are diffed downstream (follows, follow_history). The checks say whether each list was complete."
    ),
    check_specs=[dg.AssetCheckSpec(name, asset=ASSET_KEY, description=f"The last {d} list was complete "
                                   "(an incomplete one is landed but changes nothing)")
                 for d, name in CHECKS.items()],
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26)),
)
def follow_lists(context: dg.AssetExecutionContext, config: FollowsConfig, postgres: PostgresResource,
                 follows: FollowsResource):
    started = time.monotonic()
    fetched_at = parse_time(config.fetched_at)
    wanted = [DIRECTIONS[d] for d in config.directions]
    meta: dict[str, Any] = {"rows_landed": 0, "rows_quarantined": 0, "pages": 0, "retries": 0}
    reasons: list[str] = []
    checks: list[dg.AssetCheckResult] = []
    with postgres.connect() as conn:
        for direction in CHECKS:
            if direction not in wanted:
                checks.append(dg.AssetCheckResult(check_name=CHECKS[direction], passed=True,
                                                  metadata={"fetched": False}))
                continue
            with follows.client() as client:
                if direction == "following":
                    capture, request = fetch_following(client, follows), follows.endpoint(ONLINE_PATH)
                else:
                    capture, request = fetch_followers(client, follows), follows.endpoint(FOLLOWERS_PATH)
            batch = capture.batch(fetched_at, request)
            landed = load.land(conn, batch, schema=postgres.raw_schema)
            name = "followers" if direction == "follower" else "following"
            meta["rows_landed"] += landed.rows
            meta["rows_quarantined"] += landed.quarantined
            meta["pages"] += len(capture.pages)
            meta["retries"] += capture.retries
            reasons.extend(r.reason for r in batch.rejects)
            meta.update({f"{name}_listed": capture.listed, f"{name}_reported_total": capture.reported_total or 0,
                         f"{name}_complete": capture.complete, f"{name}_pages": len(capture.pages),
                         f"{name}_retries": capture.retries})
            verdict = redact(capture.verdict())
            (context.log.info if capture.complete else context.log.warning)(f"{name} list: {verdict}")
            checks.append(list_check(capture, CHECKS[direction], name, verdict))
    meta.update(fetched_at=fetched_at.isoformat(), seconds=round(time.monotonic() - started, 3))
    return dg.MaterializeResult(metadata=metadata.landing(meta, reasons), check_results=checks)


def list_check(capture: Capture, check_name: str, name: str, verdict: str) -> dg.AssetCheckResult:
    """following_list_complete / followers_list_complete: passed, or failed with a description saying what
    to do; ERROR when the operator must act (an expired session names its setting; a Cloudflare block)."""
    meta: dict[str, Any] = {"verdict": verdict, "listed": capture.listed,
                            "reported_total": capture.reported_total if capture.reported_total is not None else -1}
    if capture.complete:
        return dg.AssetCheckResult(check_name=check_name, passed=True, metadata=meta)
    if capture.blocked == "login":
        meta["setting"] = SESSION_SETTING
        text = (f"The {name} list was not read: the follows session expired. Set fresh session cookies "
                f"({SESSION_SETTING}, MHC_FOLLOWS_CSRFTOKEN) from a logged-in browser. ")
    elif capture.blocked == "cloudflare":
        text = (f"The {name} list was not read: Cloudflare answered with a challenge page; the next run "
                "asks again. ")
    else:
        text = f"The {name} list is incomplete; the next run asks again. "
    text += f"Nothing was diffed (no follow or unfollow recorded from it). {verdict}"
    return dg.AssetCheckResult(check_name=check_name, passed=False, description=redact(text), metadata=meta,
                               severity=dg.AssetCheckSeverity.ERROR if capture.blocked else dg.AssetCheckSeverity.WARN)
