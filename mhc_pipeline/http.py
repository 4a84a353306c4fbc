"""The one HTTP layer of every source: timeouts, retries, rate limits, redaction.

- Retries with exponential backoff and jitter on 429, 5xx (and Cloudflare's 520-524), connection errors
  and read timeouts, honouring `Retry-After`: urllib3's `Retry` under a requests `Session`.
- A per-source rate limit (most requests per second, process-wide, retries included).
- Redaction: every URL or message this module logs or raises has the registered secrets and any
  token-looking query parameter or Events-API path token replaced by `***`. Exceptions are raised
  without the underlying requests exception attached (its text carries the full URL).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
MAX_RETRY_AFTER = 120.0
USER_AGENT = "mhc-pipeline/0.1 (+https://github.com/mhc-pipeline)"

# ---------------------------------------------------------------------------------------------------
# Redaction
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_PATTERNS = [
    # token-like query parameters (Stats API `token=`, `api_key=`), the Affiliate API's `wm` (the affiliate
    # campaign: a credential), and client_ip (end-user PII)
    (re.compile(r"(?i)([?&;](?:token|api_key|apikey|access_token|key|password|client_ip|wm)=)[^&#\s'\"]+"),
     r"\1***"),
    # Events API: the token is the path segment after the username
    (re.compile(r"(/events/[^/\s?]+/)[^/\s?'\"]+"), r"\1***"),
    # user:password@ in URLs
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@/\s]+@"), r"\1***@"),
    # Authorization headers / cookies if they ever reach a message
    (re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"), r"\1***"),
    (re.compile(r"(?i)((?:sessionid|csrftoken|cf_clearance)=)[^;\s]+"), r"\1***"),
]


def register_secret(value: str | None) -> None:
    """Make `value` redacted from everything this layer logs or raises (and from `redact()`)."""
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: Any, *secrets: str | None) -> str:
    """The one redaction of what is logged, raised or stored: every registered secret, the `secrets` given
    (e.g. `url_secrets(url)` of a URL the text may echo), and the patterns above (token-like query
    parameters, the Events path token, `user:password@` in URLs, bearer headers, session cookies)."""
    text = str(text)
    with _SECRETS_LOCK:
        secrets = tuple(sorted({*_SECRETS, *(s for s in secrets if s)}, key=len, reverse=True))
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The password of a URL, as written and percent-decoded (a driver may echo either): for `redact`."""
    password = urlsplit(url).password
    return (password, unquote(password)) if password else ()


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's message (installed by the CLI and tests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken format string is not ours to fix here
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


# urllib3 logs every request line (with its query string: the Stats API token) at DEBUG on its own
# logger, whatever handlers the process installs: redact at the source.
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())


# ---------------------------------------------------------------------------------------------------
# Errors
class SourceError(RuntimeError):
    """A source could not be read. The message is redacted and names the source."""

    def __init__(self, source: str, message: str, *, status: int | None = None, url: str = "", body: str = ""):
        self.source = source
        self.status = status
        self.url = redact(url)
        self.body = redact(body)
        super().__init__(redact(f"{source}: {message}" + (f" ({self.url})" if self.url else "")))


class BadResponse(SourceError):
    """The body is not what the source documents (HTML instead of JSON, malformed JSON, wrong shape)."""


class AuthError(SourceError):
    """The credential was refused (bad, revoked, or for another environment)."""


# ---------------------------------------------------------------------------------------------------
# Rate limiting
# Slots are spaced 2% wider than 1/max_rps: the source measures arrival times, and the time between
# taking a slot and the request reaching the server varies by a few milliseconds, which would otherwise
# let two arrivals come closer than the limit (seen: 8 requests in 6.99993 s at "1 request/s").
RATE_LIMIT_MARGIN = 1.02


class RateLimiter:
    """At most `max_rps` request starts per second, shared by every thread of the process."""

    def __init__(self, max_rps: float):
        self.interval = RATE_LIMIT_MARGIN / max_rps if max_rps and max_rps > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> float:
        if not self.interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            time.sleep(wait)
        return wait


class SharedRateLimiter(RateLimiter):
    """At most `max_rps` request starts per second for `key` across EVERY process that uses the same
    PostgreSQL (a Dagster schedule run and a backfill run are separate processes). Each acquire reserves
    the next free slot with one atomic UPDATE on `raw.rate_limits`, then sleeps until it."""

    def __init__(self, dsn: str, key: str, max_rps: float, schema: str = "raw"):
        super().__init__(max_rps)
        self.dsn, self.key, self.schema = dsn, key, schema
        self._conn = None

    def _connection(self):
        import psycopg2

        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self.dsn)
            with self._conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(7245001)")  # no CREATE race between processes
                cur.execute(f"create schema if not exists {self.schema}")
                cur.execute(
                    f"create table if not exists {self.schema}.rate_limits"
                    " (key text primary key, next_at timestamptz not null)"
                )
                cur.execute(
                    f"insert into {self.schema}.rate_limits values (%s, clock_timestamp()) on conflict do nothing",
                    (self.key,),
                )
            self._conn.commit()
            self._conn.autocommit = True
        return self._conn

    def acquire(self) -> float:
        if not self.interval:
            return 0.0
        with self._lock:
            with self._connection().cursor() as cur:
                cur.execute(
                    f"""update {self.schema}.rate_limits
                           set next_at = greatest(next_at, clock_timestamp()) + make_interval(secs => %s)
                         where key = %s
                     returning extract(epoch from next_at - clock_timestamp()) - %s""",
                    (self.interval, self.key, self.interval),
                )
                wait = float(cur.fetchone()[0])
        if wait > 0:
            time.sleep(wait)
        return max(wait, 0.0)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(source: str, max_rps: float) -> RateLimiter:
    """The process-wide limiter of a source (one per source name and rate)."""
    key = f"{source}@{max_rps}"
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(max_rps)
        return _LIMITERS[key]


class _Retry(Retry):
    """urllib3 Retry that waits for the source's rate limiter before each retry and caps Retry-After."""

    limiter: RateLimiter | None = None

    def new(self, **kw: Any) -> _Retry:
        new = super().new(**kw)
        new.limiter = self.limiter
        return new

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.acquire()


class _LimitedAdapter(HTTPAdapter):
    def __init__(self, limiter: RateLimiter, **kw: Any):
        self.limiter = limiter
        super().__init__(**kw)

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        self.limiter.acquire()
        return super().send(request, **kw)


# ---------------------------------------------------------------------------------------------------
@dataclass
class Fetched:
    """One HTTP answer: the parsed JSON (or None), with what an operator wants to know about it."""

    url: str  # redacted
    status: int
    data: Any
    content: bytes
    retries: int
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class HttpClient:
    """A requests Session for one source with its retries, timeout, rate limit and secrets."""

    def __init__(
        self,
        source: str,
        *,
        max_rps: float = 0.0,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        retries: int = 5,
        backoff_factor: float = 0.5,
        backoff_max: float = 30.0,
        secrets: Iterable[str | None] = (),
        headers: Mapping[str, str] | None = None,
        limiter: RateLimiter | None = None,
    ):
        self.source = source
        self.timeout = (connect_timeout, timeout)
        for secret in secrets:
            register_secret(secret)
        self.limiter = limiter or limiter_for(source, max_rps)
        retry = _Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            allowed_methods=None,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            backoff_jitter=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.limiter = self.limiter
        self.session = requests.Session()
        adapter = _LimitedAdapter(self.limiter, max_retries=retry, pool_connections=4, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> Fetched:
        """Send one request (with retries). Returns the final answer whatever its status; raises
        `SourceError` (redacted) when no answer came at all."""
        started = time.monotonic()
        error: str | None = None
        try:
            resp = self.session.request(
                method,
                url,
                params=params,
                headers=headers,
                json=json,
                timeout=(self.timeout[0], timeout) if timeout else self.timeout,
            )
        except requests.exceptions.RetryError as exc:
            error = f"gave up after retries: {type(exc.args[0]).__name__ if exc.args else exc}"
        except requests.exceptions.Timeout:
            error = f"timed out after {self.timeout[1]}s"
        except requests.exceptions.ConnectionError as exc:
            error = f"connection failed ({_reason(exc)})"
        except requests.exceptions.RequestException as exc:
            error = f"request failed ({type(exc).__name__})"
        self.requests += 1
        if error is not None:
            # raised outside the except block so the requests exception (whose text has the URL) is not chained
            raise SourceError(self.source, error, url=_full_url(url, params))
        retries = len(resp.raw.retries.history) if getattr(resp.raw, "retries", None) else 0
        self.retries += retries
        fetched = Fetched(
            url=redact(resp.url),
            status=resp.status_code,
            data=None,
            content=resp.content,
            retries=retries,
            elapsed=time.monotonic() - started,
            headers=dict(resp.headers),
        )
        log.debug("%s %s -> %s (%d retries, %.2fs)", method, fetched.url, resp.status_code, retries, fetched.elapsed)
        return fetched

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200,),
        timeout: float | None = None,
    ) -> Fetched:
        """GET and parse JSON. A status outside `ok` raises `SourceError` (401/403: `AuthError`); a body
        that is not JSON raises `BadResponse`, carrying the (redacted) body for quarantine."""
        fetched = self.request("GET", url, params=params, headers=headers, timeout=timeout)
        return self.parse(fetched, ok=ok)

    def parse(self, fetched: Fetched, *, ok: Iterable[int] = (200,)) -> Fetched:
        if fetched.status not in set(ok):
            cls = AuthError if fetched.status in (401, 403) and not _is_html(fetched) else SourceError
            hint = " (an HTML page: Cloudflare or a login redirect?)" if _is_html(fetched) else ""
            raise cls(
                self.source,
                f"HTTP {fetched.status}{hint}: {_snippet(fetched.text)}",
                status=fetched.status,
                url=fetched.url,
                body=fetched.text,
            )
        try:
            fetched.data = orjson.loads(fetched.content)
        except orjson.JSONDecodeError as exc:
            what = "an HTML page (Cloudflare challenge or login redirect?)" if _is_html(fetched) else "malformed JSON"
            raise BadResponse(
                self.source,
                f"expected JSON, got {what} [{exc.msg if hasattr(exc, 'msg') else exc}]: {_snippet(fetched.text)}",
                status=fetched.status,
                url=fetched.url,
                body=fetched.text,
            ) from None
        return fetched


def _is_html(fetched: Fetched) -> bool:
    ctype = fetched.headers.get("Content-Type", fetched.headers.get("content-type", ""))
    head = fetched.content[:200].lstrip().lower()
    return "html" in ctype or head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _snippet(text: str, n: int = 120) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text[:n] + ("…" if len(text) > n else "")


def _reason(exc: Exception) -> str:
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", inner)
    return type(reason).__name__


def _full_url(url: str, params: Any) -> str:
    try:
        return requests.Request("GET", url, params=params).prepare().url or url
    except Exception:  # pragma: no cover
        return url


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
