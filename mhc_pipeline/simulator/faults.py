"""Fault injection: a FIFO queue of faults, each for the next ``count`` matching requests.

A fault spec (Python ``Simulator.inject(path, kind, count=1, **params)`` or the
JSON body of ``POST /_sim/faults``)::

    {"path": "/api/public/affiliates/onlinerooms/", "kind": "status", "count": 2,
     "status": 429, "retry_after": 5}

``path`` is a prefix of the request path (``"/"`` matches every source
request; ``/_sim/`` control requests are never faulted).  Kinds and their
parameters:

==============  ==========================================================
``status``      ``status`` (int, required), ``retry_after`` (seconds or an
                HTTP date -> ``Retry-After``), ``body`` (optional override).
                Body: a Cloudflare-style HTML page for 403 and 5xx, plain
                text otherwise.
``slow``        ``delay`` (seconds, default 2.0): sleep, then answer normally.
``html``        Cloudflare challenge page (``<title>Just a moment...</title>``),
                text/html, ``status`` default 200.
``malformed``   HTTP 200, application/json, the normal body truncated.
``bad_row``     a normal page where one row lacks ``username`` and another has
                ``num_users: "lots"`` (applied by the source handler; CBHours:
                one room / detail segment gets ``viewers: "lots"``).
``duplicates``  a normal page that also repeats ``n`` (default 3) rooms of the
                previous page served (applied by the source handler); on the
                Events API: the ``n`` events up to ``i`` are replayed in front.
``waited_too_long``  Events API only: HTTP 400 ``{"status": "waited too long
                for events", "events": [], "nextUrl": ...}`` at once.
==============  ==========================================================

When several queued faults match a request, the oldest one is used; each
request consumes at most one fault.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .routing import Response

__all__ = ["Fault", "FaultQueue", "KINDS", "CONTENT_KINDS", "status_response", "challenge_response",
           "truncate", "cloudflare_error_page"]

_PARAMS: dict[str, dict[str, Any]] = {
    # kind -> {param: default}; None default = optional with no default
    "status": {"status": None, "retry_after": None, "body": None},
    "slow": {"delay": 2.0},
    "html": {"status": 200},
    "malformed": {},
    "bad_row": {},
    "duplicates": {"n": 3},
    "waited_too_long": {},
}
KINDS = frozenset(_PARAMS)
CONTENT_KINDS = frozenset({"bad_row", "duplicates", "waited_too_long"})  # applied by the route handler

_ids = itertools.count(1)


@dataclass
class Fault:
    path: str
    kind: str
    count: int
    params: dict[str, Any] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_ids))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "kind": self.kind, "count": self.count, **self.params}


def make_fault(path: str, kind: str, count: int = 1, **params: Any) -> Fault:
    """Validate a fault spec and build a :class:`Fault` (ValueError when invalid)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"fault path must start with '/': {path!r}")
    if kind not in _PARAMS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    allowed = _PARAMS[kind]
    unknown = set(params) - set(allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {kind!r}: {sorted(unknown)}; allowed: {sorted(allowed)}")
    p = {k: v for k, v in allowed.items() if v is not None}
    p.update({k: v for k, v in params.items() if v is not None})
    if kind == "status":
        st = p.get("status")
        if not isinstance(st, int) or isinstance(st, bool) or not 100 <= st <= 599:
            raise ValueError("a 'status' fault needs status=<int 100..599>")
        ra = p.get("retry_after")
        if ra is not None and not isinstance(ra, (int, float, str)):
            raise ValueError("retry_after must be seconds (number) or an HTTP date (string)")
    elif kind == "slow":
        if not isinstance(p["delay"], (int, float)) or p["delay"] < 0:
            raise ValueError("delay must be a number of seconds >= 0")
    elif kind == "html":
        if not isinstance(p["status"], int) or not 100 <= p["status"] <= 599:
            raise ValueError("status must be an int 100..599")
    elif kind == "duplicates":
        if not isinstance(p["n"], int) or p["n"] < 1:
            raise ValueError("n must be a positive int")
    return Fault(path, kind, count, p)


class FaultQueue:
    """Thread-safe FIFO of faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Consume one use of the oldest fault matching ``path``; returns a copy with count=1."""
        with self._lock:
            for i, f in enumerate(self._faults):
                if path.startswith(f.path):
                    f.count -= 1
                    if f.count <= 0:
                        del self._faults[i]
                    return Fault(f.path, f.kind, 1, dict(f.params), f.id)
        return None

    def clear(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
        return n

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]


# ---------------------------------------------------------------------------
# responses for the generic kinds

_CF_PHRASES = {
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
    525: "SSL handshake failed",
    526: "Invalid SSL certificate",
}


def reason_phrase(status: int) -> str:
    if status in _CF_PHRASES:
        return _CF_PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def cloudflare_error_page(status: int, host: str = "chaturbate.com") -> str:
    ray = f"{(status * 2654435761) & 0xFFFFFFFFFFFF:012x}abcd"
    if status == 403:
        title = "Attention Required! | Cloudflare"
        h1 = "Sorry, you have been blocked"
        h2 = f"You are unable to access {host}"
        code = "Error 1020"
    else:
        phrase = reason_phrase(status)
        title = f"{host} | {status}: {phrase}"
        h1 = phrase
        h2 = f"Error code {status}"
        code = f"Error {status}"
    return (
        "<!DOCTYPE html>\n<!--[if lt IE 7]> <html class=\"no-js ie6 oldie\" lang=\"en-US\"> <![endif]-->\n"
        f"<html lang=\"en-US\">\n<head>\n<title>{title}</title>\n<meta charset=\"UTF-8\" />\n"
        "<meta name=\"robots\" content=\"noindex, nofollow\" />\n"
        "<link rel=\"stylesheet\" id=\"cf_styles-css\" href=\"/cdn-cgi/styles/main.css\" />\n</head>\n"
        f"<body>\n<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\" class=\"p-0\">\n"
        f"<header class=\"mx-auto pt-10\"><h1><span class=\"code-label\">{code}</span> {h1}</h1>\n"
        f"<h2>{h2}</h2></header>\n"
        "<p>Please try again in a few minutes.</p>\n"
        f"<div class=\"cf-footer\"><span>Cloudflare Ray ID: <strong>{ray}</strong></span> &bull; "
        "<span>Performance &amp; security by Cloudflare</span></div>\n"
        "</div>\n</div>\n</body>\n</html>\n"
    )


_CHALLENGE = (
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">"
    "<meta http-equiv=\"X-UA-Compatible\" content=\"IE=Edge\">"
    "<meta name=\"robots\" content=\"noindex,nofollow\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<style>*{box-sizing:border-box;margin:0;padding:0}html{line-height:1.15}</style></head>"
    "<body class=\"no-js\"><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">"
    "<h1 class=\"zone-name-title h1\">chaturbate.com</h1>"
    "<h2 class=\"h2\" id=\"challenge-running\">Checking if the site connection is secure</h2>"
    "<noscript><div id=\"challenge-error-title\"><div class=\"h2\"><span class=\"icon-wrapper\">"
    "</span>Enable JavaScript and cookies to continue</div></div></noscript></div></div>"
    "<script>(function(){window._cf_chl_opt={cvId: '3',cZone: 'chaturbate.com',cType: 'managed'};"
    "}());</script></body></html>"
)


def status_response(fault: Fault) -> Response:
    status = fault.params["status"]
    headers: dict[str, str] = {}
    ra = fault.params.get("retry_after")
    if ra is not None:
        headers["Retry-After"] = str(int(ra)) if isinstance(ra, (int, float)) and float(ra).is_integer() else str(ra)
    body = fault.params.get("body")
    if status == 403 or status >= 500:
        resp = Response.html(body if body is not None else cloudflare_error_page(status), status, headers)
        resp.headers.setdefault("Server", "cloudflare")
        resp.headers.setdefault("CF-RAY", "8f1d2c3b4a5e6f70-AMS")
    else:
        resp = Response.text(body if body is not None else f"{status} {reason_phrase(status)}", status, headers)
    resp.reason = reason_phrase(status)
    return resp


def challenge_response(fault: Fault) -> Response:
    resp = Response.html(_CHALLENGE, fault.params.get("status", 200),
                         {"Server": "cloudflare", "cf-mitigated": "challenge", "Cache-Control": "no-cache"})
    return resp


def truncate(resp: Response) -> Response:
    """HTTP 200 application/json whose body is cut short (invalid JSON)."""
    body = resp.body or b'{"results": [{"username": "x"}], "count": 1}'
    cut = max(1, min(len(body) - 1, (len(body) * 3) // 5))
    return Response(200, body[:cut], "application/json", dict(resp.headers))

