"""The owner's follow lists as captured (one `Capture` per list and direction) and judged, and the import
of saved pages and export files (`mhc import-follows`): what the live fetch (client.py) and an import share.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from mhc_pipeline import load
from mhc_pipeline.load import Batch, FieldRule, Reject

SOURCE = "follows"
TABLE = "follow_lists"
FOLLOWERS_PATH = "/accounts/followers/"
# CLI / config names -> the stored direction (the original follow_history vocabulary)
DIRECTIONS = {"following": "following", "followers": "follower", "follower": "follower"}
USERNAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
ROOM_SCHEMA: dict[str, FieldRule] = {"username": FieldRule((str,), required=True, nullable=False, nonempty=True)}
ONLINE_ROOM_SCHEMA: dict[str, FieldRule] = {"room": FieldRule((str,), required=True, nullable=False, nonempty=True)}
LOGIN_HELP = ("the website answered with its login page or sent the request to another page, as it does "
              "when nobody is logged in: the session cookies (MHC_FOLLOWS_SESSIONID, MHC_FOLLOWS_CSRFTOKEN) "
              "are expired or wrong; copy fresh ones from a logged-in browser (sessionid is httpOnly: take "
              "it from the Network tab), or use `mhc import-follows`")
CLOUDFLARE_HELP = "Cloudflare answered with a challenge page instead of the list (try again later)"
# first path segments of site links that are not user pages
_RESERVED = frozenset({
    "accounts", "affiliates", "api", "apps", "auth", "b", "contest", "external_link", "followed-cams", "in",
    "p", "photo_videos", "security", "supporter", "tags", "tipping", "tube", "female-cams", "male-cams",
    "couple-cams", "trans-cams", "spy-on-cams", "discover", "terms", "privacy", "2257", "law_enforcement",
    "jobs", "blog", "sitemap", "login", "logout", "messages", "emoticons", "follow",
})


# ---------------------------------------------------------------------------------------------------
@dataclass
class Capture:
    """One captured list (one direction), with everything needed to judge whether it is complete."""

    direction: str  # following | follower
    via: str  # api | html | import
    users: dict[str, dict] = field(default_factory=dict)  # lower-cased username -> entry (first seen wins)
    pages: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    reported_total: int | None = None
    asserted_complete: bool = False  # an export file the operator says is the whole list
    last_page: int | None = None  # a paged HTML list read to its end (the page with no next link)
    file: str | None = None
    blocked: str | None = None  # "login" or "cloudflare": the operator must act
    bad_entries: int = 0  # entries rejected by validation (quarantined)
    requests: int = 0
    retries: int = 0

    @property
    def listed(self) -> int:
        return len(self.users)

    @property
    def complete(self) -> bool:
        if self.problems or self.rejects:
            return False
        if self.reported_total is not None:
            return self.listed == self.reported_total
        return self.asserted_complete or self.last_page is not None

    def verdict(self) -> str:
        if self.complete:
            how = (" = the reported total" if self.reported_total is not None else
                   f" on {self.last_page} pages, the last with no next page" if self.last_page is not None else
                   " (asserted by the operator)")
            return f"complete: {self.listed} listed{how}"
        reasons = self.all_problems()
        if not reasons:
            reasons.append(f"{self.listed} listed, but the reported total is {self.reported_total}"
                           if self.reported_total is not None else
                           "no reported total to check the list against (pass --complete if the file is "
                           "the whole list)")
        return "incomplete: " + "; ".join(reasons)

    def all_problems(self) -> list[str]:
        return self.problems + ([f"{self.bad_entries} entries rejected (quarantined)"] if self.bad_entries else [])

    def add(self, username: str, entry: dict) -> None:
        self.users.setdefault(username.lower(), {"username": username.lower(), **entry})

    def payload(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "via": self.via,
            "complete": self.complete,
            "verdict": self.verdict(),
            "problems": self.all_problems(),
            "reported_total": self.reported_total,
            "listed": self.listed,
            "asserted_complete": self.asserted_complete,
            "last_page": self.last_page,
            "file": self.file,
            "pages": self.pages,
            "users": list(self.users.values()),
        }

    def batch(self, fetched_at: datetime, request: str, key: str | None = None) -> Batch:
        batch = Batch(source=SOURCE, table=TABLE, fetched_at=fetched_at, scope=self.direction,
                      records=[self.payload()], requests=[request], rejects=list(self.rejects), key=key,
                      meta={"direction": self.direction, "via": self.via, "complete": self.complete,
                            "listed": self.listed, "reported_total": self.reported_total,
                            "pages": len(self.pages), "pages_failed": sum(1 for p in self.pages if p.get("error")),
                            "requests": self.requests, "retries": self.retries})
        return batch


def add_rooms(capture: Capture, rooms: Any, what: str, list_name: str, schema: dict[str, FieldRule],
           name_key: str) -> int:
    """Add the rooms of one answer; a bad entry is rejected (the list is then incomplete). Returns the
    number of entries in the answer (good or bad)."""
    if not isinstance(rooms, list):
        return 0
    for n, room in enumerate(rooms):
        problem = load.validate(room, schema)
        if problem is None and not USERNAME.match(room[name_key].strip()):
            problem = f"field '{name_key}' is not a username: {room[name_key][:40]!r}"
        if problem:
            capture.bad_entries += 1
            capture.rejects.append(Reject(problem, payload=room, key=f"{what} entry {n}"))
            continue
        capture.add(room[name_key].strip(), {"list": list_name, "room": room})
    return len(rooms)


_HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.I)


def links_to_page(text: str, page: int) -> bool:
    """Whether a followers page links to page `page` of the list (`?page=N`, relative or absolute)."""
    for href in _HREF.findall(text):
        parts = urlsplit(htmllib.unescape(href))
        if parts.path and not parts.path.rstrip("/").endswith(FOLLOWERS_PATH.rstrip("/")):
            continue
        if parse_qs(parts.query).get("page") == [str(page)]:
            return True
    return False


def html_blocked(text: str, url: str = "") -> str | None:
    if "/auth/login" in url or re.search(r'<input[^>]+name="password"', text):
        return "login page"
    if "Just a moment" in text[:5000] or "cf_chl_opt" in text or "Attention Required! | Cloudflare" in text[:5000]:
        return "Cloudflare challenge page"
    return None


def parse_html(text: str, direction: str) -> tuple[list[str], int | None]:
    """Usernames and the reported total of a saved or fetched page. Following (`/followed-cams/`): room
    tiles' `data-room`, total from the embedded `total_followed`; followers: user links `/<name>/`
    (inside the followers list when the page marks one), total from the `N followers` count."""
    names: list[str] = []
    total: int | None = None
    if direction == "following":
        names = re.findall(r'data-room="([A-Za-z0-9_]+)"', text)
        m = re.search(r'total_followed\\?"?\s*:\s*"?(\d+)', text)
        total = int(m.group(1)) if m else None
    if not names:
        block = re.search(r'<ul[^>]*class="[^"]*followers_list[^"]*"[^>]*>(.*?)</ul>', text, re.S)
        scope = block.group(1) if block else text
        for name in re.findall(r'<a[^>]+href="/([A-Za-z0-9_]+)/"', scope):
            if name.lower() not in _RESERVED:
                names.append(name)
        if direction != "following":
            m = re.search(r'class="followers_total"[^>]*>\s*([\d,]+)', text) or re.search(
                r'([\d,]+)\s+followers\b', text)
            total = int(m.group(1).replace(",", "")) if m else None
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(htmllib.unescape(name).lower(), None)
    return list(seen), total


# ---------------------------------------------------------------------------------------------------
def capture_from_file(path: Path, direction: str, asserted_complete: bool = False) -> Capture:
    """A saved page, a saved JSON answer (or a list of them) or an export file, as a capture."""
    direction = DIRECTIONS[direction]
    raw = path.read_bytes()
    capture = Capture(direction=direction, via="import", asserted_complete=asserted_complete, file=path.name)
    request = f"file://{path.name}"
    text = raw.decode("utf-8", errors="replace")
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
        if text.lstrip()[:1] == "{" or text.lstrip()[:1] == "[":
            capture.problems.append("the file looks like JSON but does not parse (truncated?)")
            capture.rejects.append(Reject("malformed JSON", body=text[:100_000], key="file"))
            return capture
    if data is None and "<" in text[:2000] and re.search(r"<(html|!doctype|body|div|a)\b", text[:5000], re.I):
        blocked = html_blocked(text)
        if blocked:
            reason = LOGIN_HELP if blocked == "login page" else CLOUDFLARE_HELP
            capture.blocked = "login" if blocked == "login page" else "cloudflare"
            capture.problems.append(f"the saved page is a {blocked}, not the list")
            capture.rejects.append(Reject(f"{blocked}: {reason}", body=text[:100_000], key="file"))
            return capture
        names, total = parse_html(text, direction)
        capture.reported_total = total
        for name in names:
            capture.add(name, {"list": "page"})
        capture.pages.append({"request": request, "names": len(names), "reported_total": total})
        if not names:
            capture.problems.append("no usernames found in the saved page")
        return capture
    if data is None:  # one username a line (a CSV's first column)
        data = [line.split(",")[0].strip().strip('"') for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
        if data and data[0].lower() in ("username", "user", "name", "room"):
            data = data[1:]
    answers = data if isinstance(data, list) and data and all(isinstance(a, dict) and (
        "rooms" in a or "online_rooms" in a) for a in data) else [data]
    totals: list[int] = []
    for n, answer in enumerate(answers):
        what = f"answer {n}" if len(answers) > 1 else "file"
        if isinstance(answer, dict) and "online_rooms" in answer:
            add_rooms(capture, answer["online_rooms"], what, "online", ONLINE_ROOM_SCHEMA, "room")
            if isinstance(answer.get("total"), int):
                totals.append(answer["total"])
        elif isinstance(answer, dict) and "rooms" in answer:
            add_rooms(capture, answer["rooms"], what, "room_list", ROOM_SCHEMA, "username")
            if isinstance(answer.get("total_count"), int):
                totals.append(answer["total_count"])
        elif isinstance(answer, dict) and isinstance(answer.get("usernames"), list):
            _plain(capture, answer["usernames"], what)
        elif isinstance(answer, list):
            _plain(capture, answer, what)
        else:
            capture.problems.append(f"{what}: not a followed-rooms answer, a saved page or a list of usernames")
            capture.rejects.append(Reject("unknown file shape", payload=answer if not isinstance(answer, str)
                                          else None, body=answer if isinstance(answer, str) else None, key=what))
        capture.pages.append({"request": request, "answer": n})
    if totals:
        if len(set(totals)) == 1:
            capture.reported_total = totals[0]
        else:
            capture.problems.append(f"the saved answers report different totals {sorted(set(totals))}: "
                                    f"they are not one list")
    return capture


def _plain(capture: Capture, items: list, what: str) -> None:
    for n, item in enumerate(items):
        name = item if isinstance(item, str) else (item.get("username") or item.get("room")) \
            if isinstance(item, dict) else None
        if not isinstance(name, str) or not USERNAME.match(name.strip()):
            capture.bad_entries += 1
            capture.rejects.append(Reject(f"not a username: {str(item)[:40]!r}",
                                          payload=item if isinstance(item, (dict, list)) else None,
                                          body=None if isinstance(item, (dict, list)) else str(item),
                                          key=f"{what} entry {n}"))
            continue
        capture.add(name.strip(), {"list": "export"})


def import_file(conn, path: Path, direction: str, *, fetched_at: datetime | None = None,
                asserted_complete: bool = False, schema: str = "raw") -> tuple[Capture, load.Landed]:
    """`mhc import-follows`: land a file as a live fetch would; the same file twice changes nothing."""
    capture = capture_from_file(path, direction, asserted_complete)
    if fetched_at is None:
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    batch = capture.batch(fetched_at, f"file://{path.name}",
                          key=f"import|{capture.direction}|{digest}|{int(asserted_complete)}")
    batch.meta["file"] = path.name
    return capture, load.land(conn, batch, schema=schema)
