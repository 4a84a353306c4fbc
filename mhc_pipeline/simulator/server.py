"""The simulator's HTTP server: one World, many simulated APIs, fault injection.

``Simulator`` runs a stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive,
always a Content-Length, daemon threads) on 127.0.0.1 in a background thread.
Requests are dispatched through the route registry in :mod:`.routing`; each
simulated API lives in its own module listed in :data:`SOURCE_MODULES`.
Paths under ``/_sim/`` are control endpoints (see :mod:`.control`): they are
never faulted and never recorded in :attr:`Simulator.requests`.
"""

from __future__ import annotations

import importlib
import itertools
import math
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import control, routing
from .event_stream import EventStream, events_until
from .events import DEFAULT_TOKEN as DEFAULT_EVENTS_TOKEN
from .faults import (
    CONTENT_KINDS,
    Fault,
    FaultQueue,
    challenge_response,
    make_fault,
    reason_phrase,
    status_response,
    truncate,
)
from .people import parse_time, to_utc
from .routing import Request, Response
from .world import World

__all__ = ["Simulator", "serve", "RequestRecord", "SOURCE_MODULES"]


# Every simulated API is one module of this package that registers its routes
# with ``@routing.route(...)`` at import time.  Add new sources here.
SOURCE_MODULES: tuple[str, ...] = ("affiliate", "cbhours", "events", "stats", "statbate", "follows")


def _load_sources() -> None:
    for name in SOURCE_MODULES:
        importlib.import_module(f"{__package__}.{name}")


@dataclass(frozen=True)
class RequestRecord:
    """One source request as the simulator saw it."""

    seq: int
    mono: float  # time.monotonic() when the request arrived
    wall: datetime  # real UTC time when the request arrived
    sim_time: datetime  # simulated time the request was answered for
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    fault: str | None  # kind of the injected fault, if any

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["wall"] = self.wall.isoformat()
        d["sim_time"] = self.sim_time.isoformat()
        return d


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mhc-simulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this

    def _go(self) -> None:
        self.server.sim._dispatch(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _go

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access log
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple, sim: Simulator):
        self.sim = sim
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._conns_lock:
            self._conns.add(request)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class Simulator:
    """Local fake of the source APIs, all answering from one :class:`World`.

    ``order_jitter`` is how far (in positions) a room may move from its true
    place in the Affiliate ordering (0 = strictly by num_users desc, then
    username); ``order_salt`` says when that ordering moves: ``"time"`` (as
    simulated time moves: every request of a running clock, never under a
    frozen clock) or ``"request"`` (on every request).

    CBHours (``/api.php``, see :mod:`.cbhours`): ``cbhours_rate_limit`` (default True) blocks requests
    closer than ``cbhours_min_interval`` seconds (0.9) for ``cbhours_block_seconds`` (2) with HTTP 429.

    Events API (``/events/<owner>/<events_token>/``, see :mod:`.events`): ``events_token``,
    ``events_waited_too_long`` (empty answers become the HTTP 400 variant), ``events_rate_limit``
    (requests per 60 s, default 2000; 0 = off), ``events_backlog_seconds`` (300) and
    ``events_backlog_max`` (500) for the first call, ``events_batch_max`` (500) per answer,
    ``events_retention_seconds`` (48 h) for old ``i``; :meth:`emit_event` adds events and
    :meth:`events_until` is the ground truth.
    """

    route = staticmethod(routing.route)
    MAX_LOG = 200_000  # the request log keeps the newest records only

    def __init__(self, world: World | None = None, *, rooms: int = 50, seed: int = 1,
                 host: str = "127.0.0.1", port: int = 0, time_scale: float = 1.0,
                 order_jitter: float = 5.0, order_salt: str = "time",
                 events_token: str = DEFAULT_EVENTS_TOKEN):
        _load_sources()
        self.world = world if world is not None else World(rooms=rooms, seed=seed)
        self.host = host
        self.port = port
        self.order_jitter = order_jitter
        if order_salt not in ("time", "request"):
            raise ValueError('order_salt must be "time" or "request"')
        self.order_salt = order_salt
        self._time_scale = float(time_scale)
        self._clock_lock = threading.Lock()
        self._frozen: datetime | None = None
        self._anchor_real = time.time()
        self._anchor_sim = self._anchor_real
        self._faults = FaultQueue()
        self._log: deque[RequestRecord] = deque(maxlen=self.MAX_LOG)
        self._log_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._state: dict[str, dict] = {}
        self._state_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # CBHours
        self.cbhours_rate_limit = True
        self.cbhours_min_interval = 0.9
        self.cbhours_block_seconds = 2.0
        # Events API
        if not isinstance(events_token, str) or not events_token or "/" in events_token:
            raise ValueError("events_token must be a non-empty string without '/'")
        self.events_token = events_token
        self.events_waited_too_long = False
        self.events_rate_limit = 2000
        self.events_backlog_seconds = 300.0
        self.events_backlog_max = 500
        self.events_batch_max = 500
        self.events_retention_seconds = 48 * 3600.0
        self.event_stream = EventStream(self.world)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> Simulator:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        cls = _HTTPServer6 if ":" in self.host else _HTTPServer
        self._httpd = cls((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"mhc-simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes 'slow' faults
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Simulator({self.world!r}, url={self.url!r}, running={self.running})"

    # -- clock --------------------------------------------------------------

    def now(self) -> datetime:
        """Simulated UTC time: frozen, or running at ``time_scale`` x real time."""
        with self._clock_lock:
            if self._frozen is not None:
                return self._frozen
            ts = self._anchor_sim + (time.time() - self._anchor_real) * self._time_scale
        return datetime.fromtimestamp(ts, UTC)

    def set_time(self, t: datetime | None, *, frozen: bool = True) -> None:
        """Freeze the clock at ``t`` (``frozen=False``: run from ``t`` at ``time_scale``).

        ``set_time(None)`` returns to real time.
        """
        with self._clock_lock:
            real = time.time()
            if t is None:
                self._frozen = None
                self._anchor_real = self._anchor_sim = real
            elif frozen:
                self._frozen = to_utc(t)
            else:
                self._frozen = None
                self._anchor_real, self._anchor_sim = real, to_utc(t).timestamp()

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    @property
    def time_scale(self) -> float:
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        now = self.now()
        with self._clock_lock:
            self._time_scale = float(value)
            self._anchor_real, self._anchor_sim = time.time(), now.timestamp()

    # -- faults -------------------------------------------------------------

    def inject(self, path: str, kind: str, *, count: int = 1, **params: Any) -> Fault:
        """Queue a fault for the next ``count`` requests whose path starts with ``path``."""
        return self._faults.add(make_fault(path, kind, count, **params))

    def clear_faults(self) -> int:
        return self._faults.clear()

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Pending faults (oldest first) as dicts."""
        return self._faults.pending()

    # -- events API ---------------------------------------------------------

    def emit_event(self, method: str, obj: Any, at: datetime | None = None) -> dict:
        """Add an event ``{"method", "id", "object"}`` to the owner's stream at ``at`` (default: now).

        Any ``method`` (also unknown ones, e.g. ``"someNewMethod"``) and any JSON-able ``obj``.  The id's
        ms is ``at``'s, its seq follows every event already at that ms.  Long polls waiting for events
        wake up at once.  An event emitted before an id a consumer already passed is not seen by it.
        """
        at_ms = math.floor(to_utc(at if at is not None else self.now()).timestamp() * 1000)
        return self.event_stream.emit(method, obj, at_ms)

    def events_until(self, t: datetime, since: str | datetime | None = None) -> list[dict]:
        """Ground truth: every event of the owner's stream with time <= ``t``, ascending by id.

        ``since`` (an event id, exclusive, or a datetime) bounds it below; by default the events of
        the last ``events_retention_seconds`` before ``t`` (what the server would still replay).
        """
        return events_until(self.event_stream, t, since, self.events_retention_seconds)

    def reset_events(self) -> None:
        """Forget emitted events and the Events API rate-limit window."""
        self.event_stream.clear_emitted()
        self.source_state("events").clear()

    # -- request log --------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the source requests served so far (completion order)."""
        with self._log_lock:
            return list(self._log)

    def reset_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def source_state(self, source: str) -> dict:
        """Mutable state of one simulated source (kept until the simulator is dropped)."""
        with self._state_lock:
            return self._state.setdefault(source, {})

    # -- dispatch -----------------------------------------------------------

    def _dispatch(self, h: _Handler) -> None:
        mono = time.monotonic()
        wall = datetime.now(UTC)
        method = h.command
        split = urlsplit(h.path)
        path = split.path or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in h.headers.items()}
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = 0
        body = h.rfile.read(length) if length > 0 else b""
        if "transfer-encoding" in headers:  # chunked bodies are not supported: do not reuse the connection
            h.close_connection = True

        sim_time: datetime | None = None
        bad_time: str | None = None
        override = headers.get("x-sim-time")
        if override:
            try:
                sim_time = parse_time(override)
            except ValueError:
                bad_time = override
        if sim_time is None:
            sim_time = self.now()

        if path == "/_sim" or path.startswith("/_sim/"):
            req = Request(method, path, query, headers, body, sim_time, 0, self)
            try:
                resp = (Response.json({"error": f"bad X-Sim-Time header: {bad_time!r}"}, 400) if bad_time
                        else control.dispatch(req))
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                resp = Response.json({"error": f"{type(e).__name__}: {e}"}, 500)
            self._write(h, resp, method)
            return

        seq = next(self._seq)
        req = Request(method, path, query, headers, body, sim_time, seq, self)
        fault: Fault | None = None
        if bad_time:
            resp = Response.text(f"bad X-Sim-Time header: {bad_time!r}", 400)
        else:
            fault = self._faults.take(path)
            try:
                resp = self._serve(req, fault)
            except Exception as e:  # noqa: BLE001 - a bug in a handler must not kill the server
                traceback.print_exc()
                resp = Response.json({"error": "simulator handler failed", "detail": f"{type(e).__name__}: {e}"},
                                     500)
        if fault is not None:
            resp.headers["X-Sim-Fault"] = fault.kind
        rec = RequestRecord(seq, mono, wall, sim_time, method, path, query, resp.status,
                            fault.kind if fault else None)
        with self._log_lock:
            self._log.append(rec)
        self._write(h, resp, method)

    def _serve(self, req: Request, fault: Fault | None) -> Response:
        if fault is not None:
            if fault.kind == "slow":
                self._stopping.wait(float(fault.params["delay"]))
            elif fault.kind == "status":
                return status_response(fault)
            elif fault.kind == "html":
                return challenge_response(fault)
            elif fault.kind in CONTENT_KINDS:
                req.fault = fault
        rt, known = routing.match(req.method, req.path)
        if rt is None:
            if known:
                return Response.json({"error": "method not allowed", "method": req.method, "path": req.path}, 405)
            return Response.json({"error": "not found", "path": req.path}, 404)
        resp = rt.handler(req)
        if fault is not None and fault.kind == "malformed":
            resp = truncate(resp)
        return resp

    @staticmethod
    def _write(h: _Handler, resp: Response, method: str) -> None:
        # status line, headers and body in ONE write: separate small writes on a
        # keep-alive connection hit Nagle + delayed ACK (~40 ms per request)
        reason = (resp.reason or reason_phrase(resp.status)).replace("\r", " ").replace("\n", " ")
        head = [f"HTTP/1.1 {resp.status} {reason}", f"Date: {h.date_time_string()}"]
        if not any(k.lower() == "server" for k in resp.headers):
            head.append("Server: mhc-simulator")
        head.append(f"Content-Type: {resp.content_type}")
        head.append(f"Content-Length: {len(resp.body)}")
        head.extend(f"{k}: {v}" for k, v in resp.headers.items())
        if h.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            h.wfile.write(data + resp.body if method != "HEAD" else data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

def serve(rooms: int = 50, seed: int = 1, host: str = "127.0.0.1", port: int = 8765,
          time_scale: float = 1.0, events_token: str = DEFAULT_EVENTS_TOKEN) -> None:
    """Run the simulator in the foreground until Ctrl-C or SIGTERM."""
    sim = Simulator(rooms=rooms, seed=seed, host=host, port=port, time_scale=time_scale,
                    events_token=events_token)
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        sim.start()
        print(f"mhc simulator listening on {sim.url} (rooms={rooms}, seed={seed}, time_scale={time_scale}); "
              f"Ctrl-C to stop", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        sim.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    print("mhc simulator stopped", file=sys.stderr, flush=True)
