"""Simulated followed-rooms endpoints of the owner's Chaturbate account (sources.md §6), from the World.

Who follows whom (a pure function of the World's seed and the time)
--------------------------------------------------------------------
* **following** (the owner follows): ~45% of the World's models (never the owner), each from a day in
  2025-01-01 .. 2026-08-23; ~15% of them unfollow again some days later (:func:`following_at`).
* **followers** (follow the owner): ~12% of the Events API viewer population and ~10% of the models,
  with the same kind of start and end times (:func:`followers_at`).
* Tests change the lists exactly through ``sim.source_state("follows")``: ``"following_removed"`` /
  ``"followers_removed"`` (sets of usernames left out) and ``"following_added"`` /
  ``"followers_added"`` (sets of usernames added).

The session (``sim.source_state("follows")`` too)
* ``"session_requests"``: the cookies are good for this many more requests, then the session has
  expired and every request is turned away as with a wrong cookie (an expiry in the middle of a list).
* ``"logged_out_to"``: where a request without a valid session is sent, ``"login"`` (default) or
  ``"home"`` (the home page ``/``, HTML room tiles and no login form): sources.md §6.1 names both.
* ``"followers_total"``: ``False`` serves the followers page as the real one is known (sources.md §6.4):
  user links and page links, no count. Default ``True``: the count as ``N followers``.

Endpoints (all need the owner's cookies ``sessionid`` and ``csrftoken``, :data:`DEFAULT_SESSIONID`,
:data:`DEFAULT_CSRFTOKEN`; a missing or wrong cookie is a ``302`` to ``/auth/login/?next=<path>``, the
login page is HTML with status 200, as a browser session that expired)
* ``GET /follow/api/online_followed_rooms/``: ``{"online": n, "total": N, "online_rooms": [{"room",
  "image"}]}`` (online followed rooms only; ``total`` counts every followed room).
* ``GET /api/ts/roomlist/room-list/?follow=true&limit=L&offset=O[&offline=true]``: the followed rooms
  online (or offline), ``{"rooms": [...], "total_count": n, "all_rooms_count": n, "room_list_id": ...}``;
  ``limit`` capped at 90. Needs ``X-Requested-With: XMLHttpRequest`` (else the same login redirect).
  Online rooms carry the World's live values; offline ones ``current_show: "offline"``.
* ``GET /accounts/followers/?page=N`` (N from 1): an HTML page of 50 followers, links
  ``<a href="/<username>/">`` inside ``<ul class="followers_list">`` plus site navigation links, a
  link to the next page on every page but the last, and the total as
  ``<span class="followers_total">N followers</span>`` (not in the real page's shape, see
  ``"followers_total"``) [L: the real page is known from one scraper only]. A page past the end lists
  nobody.
* ``GET /auth/login/``: the login page (HTML). ``GET /``: the home page (HTML room tiles).

Faults: the generic ``html`` fault gives Cloudflare's "Just a moment..." page, ``status`` an error;
content fault ``bad_row``: one room of a room-list page has ``username: 42``; a followers page comes
without its page links (a page whose markup the client may not understand).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from .routing import Request, Response, route

if TYPE_CHECKING:  # pragma: no cover
    from .server import Simulator
    from .world import World

__all__ = ["DEFAULT_SESSIONID", "DEFAULT_CSRFTOKEN", "following_at", "followers_at", "ONLINE_PATH",
           "ROOMLIST_PATH", "FOLLOWERS_PATH", "LOGIN_PATH"]

DEFAULT_SESSIONID = "sim-cb-sessionid-0123456789abcdef"
DEFAULT_CSRFTOKEN = "sim-cb-csrftoken-0123456789"
ONLINE_PATH = "/follow/api/online_followed_rooms/"
ROOMLIST_PATH = "/api/ts/roomlist/room-list/"
FOLLOWERS_PATH = "/accounts/followers/"
LOGIN_PATH = "/auth/login/"
MAX_LIMIT = 90
FOLLOWERS_PAGE = 50
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def _u(seed: int, name: str, what: str) -> float:
    digest = hashlib.blake2b(f"{seed}:follows:{what}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def _active(seed: int, name: str, what: str, share: float, t: datetime) -> bool:
    if _u(seed, name, what) >= share:
        return False
    since = _EPOCH + timedelta(days=int(_u(seed, name, what + ":since") * 600))
    if t < since:
        return False
    if _u(seed, name, what + ":ends") < 0.15:
        return t < since + timedelta(days=1 + int(_u(seed, name, what + ":days") * 300))
    return True


def _adjust(names: list[str], state: dict | None, key: str) -> list[str]:
    if not state:
        return names
    removed = set(state.get(f"{key}_removed") or ())
    added = [n for n in sorted(state.get(f"{key}_added") or ()) if n not in names]
    return [n for n in names if n not in removed] + added


def following_at(world: World, t: datetime, state: dict | None = None) -> list[str]:
    """Ground truth: the usernames the owner follows at ``t`` (World order)."""
    names = [m.username for m in world.models
             if m.username != world.owner and _active(world.seed, m.username, "following", 0.45, t)]
    return _adjust(names, state, "following")


def followers_at(sim: Simulator, t: datetime, state: dict | None = None) -> list[str]:
    """Ground truth: the usernames following the owner at ``t`` (viewers first, then models)."""
    world = sim.world
    viewers, _models = sim.event_stream._population()  # noqa: SLF001 - the one viewer population
    names = [v.username for v in viewers if _active(world.seed, v.username, "follower", 0.12, t)]
    names += [m.username for m in world.models
              if m.username != world.owner and _active(world.seed, m.username, "follower", 0.10, t)]
    return _adjust(names, state, "followers")


# ---------------------------------------------------------------------------
def _cookies(req: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in req.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            out[key] = value
    return out


def _logged_in(req: Request) -> bool:
    cookies = _cookies(req)
    sim = req.sim
    if not (cookies.get("sessionid") == getattr(sim, "follows_sessionid", DEFAULT_SESSIONID)
            and cookies.get("csrftoken") == getattr(sim, "follows_csrftoken", DEFAULT_CSRFTOKEN)):
        return False
    state = req.state("follows")
    with sim._state_lock:  # noqa: SLF001
        left = state.get("session_requests")
        if left is None:
            return True
        if left <= 0:  # the session expired
            return False
        state["session_requests"] = left - 1
    return True


def _to_login(req: Request) -> Response:
    state = req.state("follows")
    with req.sim._state_lock:  # noqa: SLF001
        state["login_redirects"] = state.get("login_redirects", 0) + 1
    where = "/" if state.get("logged_out_to") == "home" else f"{LOGIN_PATH}?next={quote(req.path)}"
    return Response(302, b"", "text/html; charset=utf-8", {"Location": where})


def _room(world: World, name: str, t: datetime, online: bool) -> dict:
    m = world.model(name)
    lv = world.live_state(name, t) if online else None
    return {
        "username": name,
        "display_age": m.age_on(t.date()),
        "gender": m.gender,
        "location": m.location,
        "current_show": lv.current_show if lv else "offline",
        "room_subject": lv.room_subject if lv else "",
        "tags": list(m.tags),
        "is_new": m.is_new,
        "num_users": lv.num_users if lv else 0,
        "num_followers": world.num_followers(name, t),
        "start_dt_utc": lv.session_start.isoformat() if lv else None,
        "start_timestamp": int(lv.session_start.timestamp()) if lv else None,
        "has_password": False,
        "private_price": 6,
        "spy_show_price": 30,
        "is_gaming": False,
        "is_age_verified": True,
        "is_following": True,
        "label": "public" if lv else "offline",
        "source_name": "df",
        "img": f"https://thumb.live.mmcdn.com/riw/{name}.jpg",
    }


@route("GET", ONLINE_PATH, source="follows")
def online_followed_rooms(req: Request) -> Response:
    if not _logged_in(req):
        return _to_login(req)
    world = req.world
    names = following_at(world, req.now, req.state("follows"))
    online = [n for n in names if n in world and world.is_online(n, req.now)]
    return Response.json({"online": len(online), "total": len(names),
                          "online_rooms": [{"room": n, "image": f"https://thumb.live.mmcdn.com/riw/{n}.jpg"}
                                           for n in online]})


@route("GET", ROOMLIST_PATH, source="follows")
def room_list(req: Request) -> Response:
    if not _logged_in(req) or req.headers.get("x-requested-with") != "XMLHttpRequest":
        return _to_login(req)
    if (req.arg("follow") or "").lower() != "true":
        return Response.json({"detail": "only the followed room list is simulated"}, 400)
    try:
        limit = max(1, min(MAX_LIMIT, int(req.arg("limit") or MAX_LIMIT)))
        offset = max(0, int(req.arg("offset") or 0))
    except ValueError:
        return Response.json({"detail": "limit and offset must be integers"}, 400)
    offline = (req.arg("offline") or "").lower() == "true"
    world = req.world
    names = [n for n in following_at(world, req.now, req.state("follows")) if n in world]
    chosen = sorted(n for n in names if world.is_online(n, req.now) != offline)
    rooms = [_room(world, n, req.now, not offline) for n in chosen[offset:offset + limit]]
    if req.fault is not None and req.fault.kind == "bad_row" and rooms:
        rooms[len(rooms) // 2]["username"] = 42
    return Response.json({"rooms": rooms, "total_count": len(chosen), "all_rooms_count": len(chosen),
                          "room_list_id": f"follow-{'offline' if offline else 'online'}"})


_NAV = ('<a href="/">Home</a> <a href="/tags/">Tags</a> <a href="/followed-cams/">Followed</a> '
        '<a href="/accounts/">Account</a> <a href="/auth/logout/">Log out</a>')


@route("GET", FOLLOWERS_PATH, source="follows")
def followers_page(req: Request) -> Response:
    if not _logged_in(req):
        return _to_login(req)
    try:
        page = max(1, int(req.arg("page") or 1))
    except ValueError:
        page = 1
    state = req.state("follows")
    names = followers_at(req.sim, req.now, state)
    chunk = names[(page - 1) * FOLLOWERS_PAGE:page * FOLLOWERS_PAGE]
    items = "\n".join(f'<li class="follower"><a href="/{n}/">{n}</a></li>' for n in chunk)
    last = max(1, -(-len(names) // FOLLOWERS_PAGE))
    if state.get("followers_total", True):
        count = f'<span class="followers_total">{len(names)} followers</span>'
        paging = (f'<a class="next" href="{FOLLOWERS_PATH}?page={page + 1}">next</a>'
                  if page * FOLLOWERS_PAGE < len(names) else "")
    else:  # the real page's shape: links only, relative page links (previous, every number, next)
        count = ""
        links = [f'<li><a href="?page={page - 1}">&laquo; previous</a></li>'] if 1 < page <= last + 1 else []
        links += [f'<li><a href="?page={n}">{n}</a></li>' if n != page else f'<li class="active">{n}</li>'
                  for n in range(1, last + 1)]
        if page < last:
            links.append(f'<li><a href="?page={page + 1}">next &raquo;</a></li>')
        paging = f'<ul class="paging">{"".join(links)}</ul>'
    if req.fault is not None and req.fault.kind == "bad_row":
        paging = ""
    html = (f"<!DOCTYPE html><html><head><title>Followers | Chaturbate</title></head><body>"
            f"<nav>{_NAV}</nav><h1>Your followers</h1>{count}"
            f'<ul class="followers_list">\n{items}\n</ul>{paging}</body></html>')
    return Response.html(html)


@route("GET", "/", source="follows", exact=True)
def home_page(req: Request) -> Response:
    """The site's home page as a visitor who is not logged in sees it: room tiles, a login link."""
    world = req.world
    online = world.online_usernames(req.now)[:60]
    tiles = "\n".join(f'<li class="room_list_room" data-room="{n}"><a href="/{n}/">{n}</a></li>' for n in online)
    html = ("<!DOCTYPE html><html><head><title>Chaturbate - Free Adult Live Webcams!</title></head><body>"
            f'<nav>{_NAV.replace("/auth/logout/", LOGIN_PATH).replace("Log out", "Log in")}</nav>'
            f'<ul class="list">\n{tiles}\n</ul></body></html>')
    return Response.html(html)


@route("GET", LOGIN_PATH, source="follows")
def login_page(req: Request) -> Response:
    html = ("<!DOCTYPE html><html><head><title>Log In | Chaturbate</title></head><body>"
            '<form method="post" action="/auth/login/"><input type="hidden" name="csrfmiddlewaretoken" '
            'value="x"><input name="username"><input name="password" type="password"></form></body></html>')
    return Response.html(html)
