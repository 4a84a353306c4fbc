"""The owner's deterministic event stream, the data the simulated Events API (:mod:`.events`) serves.

The stream
----------
The owner (``World.owner``, model 0) broadcasts on the World's schedule.  For each broadcast session
``[s, e)`` (UTC minutes, :meth:`World.sessions`) :class:`EventStream` generates a deterministic list of
events from ``random.Random(f"{seed}:events:{owner}:{s}")``:

* ``broadcastStart`` in the first 1.5 s of minute ``s``, then ``roomSubjectChange`` with the World's
  ``room_subject`` (and again whenever the World's subject changes, checked once per minute);
* a Poisson flow of 10-30 events per minute (the rate is drawn per session): ``userEnter``,
  ``userLeave``, ``chatMessage``, ``privateMessage`` (from a visitor to the owner or from the owner to a
  visitor; ``user`` is the sender), ``tip`` (``isAnon`` ~8%, ``message`` ``""`` or ``"| text"``),
  ``follow``, ``unfollow``, ``fanclubJoin``, ``mediaPurchase`` (``media.id`` an int or a digit string);
  ~4% of the events share the millisecond of the previous one (ids ``<ms>-1``, ``<ms>-2``...);
* ``broadcastStop`` in the last 1.5 s before minute ``e``.

Visitors: ~70% from a population of 3,000 viewers (usernames that are not models; a few regulars
come often) and ~30% models of the World (``isBroadcasting`` true when the World has them online).
User objects carry the 7 documented keys; ~half of them also carry the optional extras (all ten, or a
random subset).  ``recentTips`` is one of none/few/some/lots/tons.

Ids are ``"<epoch_ms>-<seq>"``, strictly ascending by ``(ms, seq)``; the event time is the ms prefix.
Events added with :meth:`Simulator.emit_event` are merged into the stream (any ``method``, any object).
"""

from __future__ import annotations

import math
import random
import re
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import merge
from typing import Any

import orjson

from .people import to_utc
from .world import World

__all__ = ["EventStream", "METHODS", "id_key", "format_id", "events_until"]

METHODS = ("broadcastStart", "broadcastStop", "userEnter", "userLeave", "follow", "unfollow", "fanclubJoin",
           "chatMessage", "privateMessage", "tip", "mediaPurchase", "roomSubjectChange")
INF = 1 << 62
_ID_RE = re.compile(r"^(\d{1,17})-(\d{1,9})$")

Key = tuple[int, int]


def id_key(event_id: str) -> Key:
    """``"<ms>-<seq>"`` -> ``(ms, seq)`` (ValueError when malformed)."""
    m = _ID_RE.match(event_id.strip())
    if not m:
        raise ValueError(f"not an event id: {event_id!r}")
    return int(m.group(1)), int(m.group(2))


def format_id(key: Key) -> str:
    return f"{key[0]}-{key[1]}"


def _ms(t: datetime) -> int:
    return math.floor(to_utc(t).timestamp() * 1000)


# ---------------------------------------------------------------------------
# visitors

_V_ADJ = ("quiet", "lucky", "silent", "happy", "big", "old", "lonely", "mad", "dark", "chill", "kind", "shy",
          "wild", "lazy", "fast", "true", "night", "north", "sweet", "grey", "brave", "cool", "sad", "real")
_V_NOUN = ("fox", "runner", "patron", "guy", "wolf", "tiger", "rider", "sailor", "gamer", "bear", "hawk",
           "viking", "monk", "pilot", "joe", "mike", "dave", "tom", "ken", "alex", "fan", "watcher", "owl",
           "boss", "kite", "dog", "cat", "ninja", "chef", "doc")
_LANG = ("en", "en", "en", "en", "de", "es", "es", "fr", "it", "ja", "ko", "pl", "pt", "ru", "zh")
_TIPS_LEVELS = ("none", "few", "some", "lots", "tons")
_COLOR = {"none": "g", "few": "t", "some": "tr", "lots": "p", "tons": "l"}
_EXTRA_KEYS = ("colorGroup", "fcAutoRenew", "hasDarkmode", "inPrivateShow", "isBroadcasting", "isFollower",
               "isOwner", "isSilenced", "isSpying", "language")
_CHAT = ("hi", "hello :)", "hey beautiful", "love the outfit", "how are you?", "lol", "haha",
         "you look amazing tonight", "what music is this?", "hola", "привет", "where are you from?", "🔥🔥🔥",
         "😍", "good evening everyone", "brb", "thanks for the show", "nice room", "pm?", "what's the goal?",
         "can you dance?", "wow", "omg", "so cute", "hi from Germany", "ciao bella", "❤️", "gm", "ty",
         "first time here", "back again :)", "how long are you online?", "song request?", "👋",
         "this is a really long message to test wrapping in the chat window, sorry for the spam " * 2)
_OWNER_CHAT = ("thank you babe 💜", "welcome everyone!", "hi hi", "thanks for the tip!", "goal is almost done",
               "brb 2 min", "who wants a song?", "tip menu in bio", "love you all", "gracias amor")
_TIP_NOTES = ("play the next song", "for you", "dance please", "hi", "keep going", "you're the best",
              "spin the wheel", "☺", "tip menu #3", "from a fan", "happy birthday!")
_PM = ("hi :)", "are you free later?", "thanks", "can I ask something?", "pvt?", "you are lovely",
       "see you tomorrow", "ok", "😘", "nice to see you again")
_MEDIA = ("Halloween set", "Beach day", "Behind the scenes", "Cosplay vol. 2", "Morning routine",
          "New year special", "Lingerie set", "Short clip", "Studio photos", "Vacation pics")
_TIP_TOKENS = (1, 1, 2, 5, 5, 10, 10, 11, 15, 20, 25, 25, 33, 35, 50, 50, 69, 77, 99, 100, 100, 111, 150,
               200, 222, 333, 500, 1000)
_COLORS = ("#494949", "#494949", "#494949", "", "#dc0000", "#0a5a83", "#7f00ff")
_FONTS = ("default", "default", "default", "arial", "verdana", "georgia")


@dataclass(frozen=True)
class Visitor:
    username: str
    gender: str
    subgender: str
    has_tokens: bool
    tips: str
    language: str
    mod: bool
    fan: bool
    darkmode: bool
    model: bool  # a model of the World (may be broadcasting)


def _viewer_name(rng: random.Random) -> str:
    a, n = rng.choice(_V_ADJ), rng.choice(_V_NOUN)
    r = rng.random()
    if r < 0.35:
        return f"{a}{n}{rng.randrange(1, 100)}"
    if r < 0.6:
        return f"{n}_{a}_{rng.randrange(1, 1000)}"
    if r < 0.75:
        return f"{n}{rng.randrange(1960, 2006)}"
    if r < 0.85:
        return f"xx_{n}_xx"
    return f"{a}_{n}{rng.randrange(10, 10000)}"


# ---------------------------------------------------------------------------
# the stream


class EventStream:
    """The owner's deterministic event stream plus emitted events (thread-safe)."""

    N_VIEWERS = 3000
    SESSION_CACHE = 16  # ~5 MB per session of events (~1 KB per event)
    MAX_SPAN_DAYS = 60  # generated events are looked up at most this far back from a query's end

    def __init__(self, world: World):
        self.world = world
        self.owner = world.owner if world.owner is not None and world.owner in world else None
        self._lock = threading.RLock()
        self.changed = threading.Condition(threading.Lock())  # notified when events are emitted
        self._sessions: OrderedDict[int, tuple[list[Key], list[dict]]] = OrderedDict()
        self._emitted_keys: list[Key] = []
        self._emitted: list[dict] = []
        self._viewers: list[Visitor] | None = None
        self._models: list[Visitor] | None = None

    # -- population ---------------------------------------------------------

    def _population(self) -> tuple[list[Visitor], list[Visitor]]:
        if self._viewers is not None and self._models is not None:
            return self._viewers, self._models
        w = self.world
        rng = random.Random(f"{w.seed}:viewers")
        taken: set[str] = set()
        viewers = []
        for _ in range(self.N_VIEWERS):
            name = _viewer_name(rng)
            while name in taken or name in w:
                name = f"{name}{rng.randrange(10)}"
            taken.add(name)
            gender = rng.choices("mftc", weights=(80, 7, 9, 4))[0]
            sub = rng.choice(("tf", "tf", "tm", "tn")) if gender == "t" else ""
            has = rng.random() < 0.72
            tips = rng.choices(_TIPS_LEVELS, weights=(30, 12, 34, 17, 7))[0] if has else "none"
            viewers.append(Visitor(name, gender, sub, has, tips, rng.choice(_LANG), rng.random() < 0.02,
                                   rng.random() < 0.06, rng.random() < 0.45, False))
        models = []
        for m in w.models:
            if m.username == self.owner:
                continue
            sub = rng.choice(("tf", "tm", "tn")) if m.gender == "t" else ""
            has = rng.random() < 0.6
            tips = rng.choices(_TIPS_LEVELS, weights=(50, 15, 25, 8, 2))[0]
            models.append(Visitor(m.username, m.gender, sub, has, tips, rng.choice(_LANG), False,
                                  rng.random() < 0.03, rng.random() < 0.45, True))
        self._viewers, self._models = viewers, models
        return viewers, models

    def _owner_visitor(self) -> Visitor:
        m = self.world.model(self.owner)  # type: ignore[arg-type]
        return Visitor(m.username, m.gender, "tf" if m.gender == "t" else "", True, "none", "en", False,
                       False, False, True)

    # -- generation ---------------------------------------------------------

    def _session(self, s: int, e: int) -> tuple[list[Key], list[dict]]:
        with self._lock:
            got = self._sessions.get(s)
            if got is not None:
                self._sessions.move_to_end(s)
                return got
        got = self._generate(s, e)
        with self._lock:
            self._sessions[s] = got
            while len(self._sessions) > self.SESSION_CACHE:
                self._sessions.popitem(last=False)
        return got

    def _generate(self, s: int, e: int) -> tuple[list[Key], list[dict]]:
        w = self.world
        owner = self.owner
        assert owner is not None
        om = w.model(owner)
        viewers, models = self._population()
        rng = random.Random(f"{w.seed}:events:{owner}:{s}")
        me = self._owner_visitor()
        keys: list[Key] = []
        events: list[dict] = []
        last = [0, -1]
        present: list[Visitor] = []
        present_set: set[str] = set()
        followers: set[str] = set()
        unfollowed: set[str] = set()
        fans: set[str] = set()
        target = rng.randint(6, 40)
        rate = rng.uniform(10.0, 27.0)  # per minute; with subject changes and bursts ~10-30 events/minute
        mean_gap = 60000.0 / rate
        nv = len(viewers)

        def add(ms: int, method: str, obj: dict) -> None:
            if ms <= last[0]:
                ms, seq = last[0], last[1] + 1
            else:
                seq = 0
            last[0], last[1] = ms, seq
            keys.append((ms, seq))
            events.append({"method": method, "id": f"{ms}-{seq}", "object": obj})

        def user(v: Visitor, minute: int, method: str = "") -> dict:
            name = v.username
            tips = v.tips
            if tips != "none" and rng.random() < 0.1:
                tips = rng.choice(_TIPS_LEVELS)
            fan = v.fan or name in fans
            u = {"username": name, "inFanclub": fan, "hasTokens": v.has_tokens, "isMod": v.mod,
                 "recentTips": tips, "gender": v.gender, "subgender": v.subgender}
            r = rng.random()
            if r < 0.5:
                return u
            is_owner = name == owner
            follower = (method == "follow") or (method != "unfollow" and name in followers)
            if is_owner:
                color = "o"
            elif v.mod:
                color = "m"
            elif fan:
                color = "f"
            else:
                color = _COLOR[tips] if v.has_tokens else "g"
            broadcasting = is_owner or (
                v.model and w._session_at(w.model(name), minute) is not None)  # noqa: SLF001
            extra = {"colorGroup": color, "fcAutoRenew": fan and rng.random() < 0.7,
                     "hasDarkmode": v.darkmode,
                     "inPrivateShow": False, "isBroadcasting": broadcasting, "isFollower": follower,
                     "isOwner": is_owner, "isSilenced": rng.random() < 0.01, "isSpying": rng.random() < 0.02,
                     "language": v.language}
            if r < 0.85:
                u.update(extra)
            else:
                for k in _EXTRA_KEYS:
                    if rng.random() < 0.5:
                        u[k] = extra[k]
            return u

        def message(text: str, pm_from: str | None = None, pm_to: str | None = None) -> dict:
            msg: dict[str, Any] = {"color": rng.choice(_COLORS),
                                   "bgColor": None if rng.random() < 0.95 else "#ffff33",
                                   "message": text, "font": rng.choice(_FONTS)}
            if pm_from is not None:
                msg["fromUser"] = pm_from
                msg["toUser"] = pm_to
            if rng.random() < 0.6:
                msg["orig"] = None
            return msg

        def newcomer() -> Visitor | None:
            for _ in range(8):
                if models and rng.random() < 0.3:
                    v = models[rng.randrange(len(models))]
                else:
                    v = viewers[min(nv - 1, int(nv * rng.random() ** 3))]
                if v.username not in present_set:
                    return v
            return None

        def anyone() -> Visitor:
            return present[rng.randrange(len(present))]

        t = s * 60000 + rng.randrange(100, 1500)
        stop = e * 60000 - rng.randrange(100, 1500)
        add(t, "broadcastStart", {"broadcaster": owner, "user": user(me, s, "broadcastStart")})
        subject = w._subject(om, s, s)  # noqa: SLF001
        cur_minute = s
        if subject:
            t += rng.randrange(50, 900)
            add(t, "roomSubjectChange", {"broadcaster": owner, "subject": subject})
        while True:
            gap = 0 if rng.random() < 0.04 else int(rng.expovariate(1.0 / mean_gap)) + 1
            t += gap
            if t >= stop:
                break
            minute = t // 60000
            if minute != cur_minute:
                cur_minute = minute
                subj = w._subject(om, minute, s)  # noqa: SLF001
                if subj and subj != subject:
                    subject = subj
                    add(max(t - rng.randrange(1, 400), last[0]), "roomSubjectChange",
                        {"broadcaster": owner, "subject": subj})
            n = len(present)
            if n == 0:
                kind = "userEnter"
            else:
                wenter = 20 * (1.6 if n < target else 0.6)
                wleave = 16 * (1.5 if n > target else 0.5)
                kind = rng.choices(
                    ("userEnter", "userLeave", "chatMessage", "tip", "privateMessage", "follow", "unfollow",
                     "fanclubJoin", "mediaPurchase"),
                    weights=(wenter, wleave, 34, 10, 6, 5, 1.5, 1.2, 1.8))[0]
            if kind == "userEnter":
                v = newcomer()
                if v is None:
                    continue
                present.append(v)
                present_set.add(v.username)
                add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind)})
            elif kind == "userLeave":
                i = rng.randrange(n)
                v = present[i]
                present[i] = present[-1]
                present.pop()
                present_set.discard(v.username)
                add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind)})
            elif kind == "chatMessage":
                if rng.random() < 0.15:
                    add(t, kind, {"broadcaster": owner, "user": user(me, minute, kind),
                                  "message": message(rng.choice(_OWNER_CHAT))})
                else:
                    v = anyone()
                    add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind),
                                  "message": message(rng.choice(_CHAT))})
            elif kind == "tip":
                v = anyone()
                note = "" if rng.random() < 0.55 else "| " + rng.choice(_TIP_NOTES)
                tip = {"tokens": rng.choice(_TIP_TOKENS), "isAnon": rng.random() < 0.08, "message": note}
                add(t, kind, {"broadcaster": owner, "tip": tip, "user": user(v, minute, kind)})
            elif kind == "privateMessage":
                v = anyone()
                if rng.random() < 0.5:
                    msg = message(rng.choice(_PM), v.username, owner)
                    add(t, kind, {"broadcaster": owner, "message": msg, "user": user(v, minute, kind)})
                else:
                    msg = message(rng.choice(_PM), owner, v.username)
                    add(t, kind, {"broadcaster": owner, "message": msg, "user": user(me, minute, kind)})
            elif kind == "follow":
                v = anyone()
                followers.add(v.username)
                unfollowed.discard(v.username)
                add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind)})
            elif kind == "unfollow":
                cands = [p for p in present if p.username in followers] or present
                v = cands[rng.randrange(len(cands))]
                followers.discard(v.username)
                unfollowed.add(v.username)
                add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind)})
            elif kind == "fanclubJoin":
                v = anyone()
                if v.fan or v.username in fans:
                    continue
                fans.add(v.username)
                add(t, kind, {"broadcaster": owner, "user": user(v, minute, kind)})
            elif kind == "mediaPurchase":
                v = anyone()
                mid = 10000 + int(rng.random() * 90000)
                media = {"id": mid if rng.random() < 0.6 else str(mid),
                         "type": rng.choice(("photos", "video")), "name": rng.choice(_MEDIA),
                         "tokens": rng.choice((25, 30, 50, 75, 100, 150, 200))}
                add(t, kind, {"broadcaster": owner, "media": media, "user": user(v, minute, kind)})
        add(max(stop, last[0]), "broadcastStop",
            {"broadcaster": owner, "user": user(me, e - 1, "broadcastStop")})
        return keys, events

    # -- queries ------------------------------------------------------------

    def _sessions_between(self, lo_ms: int, hi_ms: int) -> list[tuple[int, int]]:
        """Owner sessions (start, end minutes) with events possibly in [lo_ms, hi_ms]."""
        if self.owner is None or hi_ms < lo_ms:
            return []
        a = datetime.fromtimestamp((lo_ms // 60000) * 60, UTC)
        b = datetime.fromtimestamp((hi_ms // 60000 + 1) * 60, UTC)
        return [(int(s.timestamp()) // 60, int(e.timestamp()) // 60)
                for s, e in self.world.sessions(self.owner, a, b)]

    def between(self, after: Key, until_ms: int, limit: int | None = None) -> list[dict]:
        """Events with ``after < (ms, seq)`` and ``ms <= until_ms``, ascending (the first ``limit``)."""
        hi_key = (until_ms, INF)
        if after >= hi_key:
            return []
        generated: list[dict] = []
        lo = max(0, after[0], until_ms - self.MAX_SPAN_DAYS * 86_400_000)
        for s, e in self._sessions_between(lo, until_ms):
            keys, evs = self._session(s, e)
            i0 = bisect_right(keys, after)
            i1 = bisect_right(keys, hi_key)
            if i1 > i0:
                generated.extend(evs[i0:i1])
            if limit is not None and len(generated) >= limit:
                break
        with self._lock:
            j0 = bisect_right(self._emitted_keys, after)
            j1 = bisect_right(self._emitted_keys, hi_key)
            emitted = self._emitted[j0:j1]
        if emitted:
            out = list(merge(generated, emitted, key=lambda ev: id_key(ev["id"])))
        else:
            out = generated
        return out[:limit] if limit is not None else out

    def last_before(self, ms: int, lookback_days: int = 7) -> Key | None:
        """The key of the last event with time <= ms (None when none in ``lookback_days``)."""
        best: Key | None = None
        lo = ms - lookback_days * 86_400_000
        sessions = self._sessions_between(lo, ms)
        for s, e in reversed(sessions):
            keys, _ = self._session(s, e)
            i = bisect_right(keys, (ms, INF))
            if i:
                best = keys[i - 1]
                break
        with self._lock:
            j = bisect_right(self._emitted_keys, (ms, INF))
            cand = self._emitted_keys[j - 1] if j else None
            if cand is not None and cand[0] >= lo and (best is None or cand > best):
                best = cand
        return best

    def emit(self, method: str, obj: Any, at_ms: int) -> dict:
        """Append an event at ``at_ms`` (after every event already at that ms)."""
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a non-empty string")
        seq = 0
        for s, e in self._sessions_between(at_ms, at_ms):
            keys, _ = self._session(s, e)
            i = bisect_right(keys, (at_ms, INF))
            if i and keys[i - 1][0] == at_ms:
                seq = max(seq, keys[i - 1][1] + 1)
        with self._lock:
            j = bisect_right(self._emitted_keys, (at_ms, INF))
            if j and self._emitted_keys[j - 1][0] == at_ms:
                seq = max(seq, self._emitted_keys[j - 1][1] + 1)
            key = (at_ms, seq)
            event = {"method": method, "id": format_id(key), "object": obj}
            self._emitted_keys.insert(j, key)
            self._emitted.insert(j, event)
        with self.changed:
            self.changed.notify_all()
        return event

    def clear_emitted(self) -> int:
        with self._lock:
            n = len(self._emitted)
            self._emitted_keys.clear()
            self._emitted.clear()
        return n


def events_until(stream: EventStream, t: datetime, since: str | datetime | None = None,
                 retention_seconds: float = 48 * 3600) -> list[dict]:
    """The ground truth: every event with time <= t (and id > ``since``), ascending.

    ``since``: an event id (exclusive) or a datetime (events after it); default ``t`` minus the
    retention (48 h), the oldest events the server would still replay.  Returns private copies.
    """
    until = _ms(t)
    if since is None:
        after: Key = (until - int(retention_seconds * 1000), INF)
    elif isinstance(since, datetime):
        after = (_ms(since), INF)
    else:
        after = id_key(since)
    return orjson.loads(orjson.dumps(stream.between(after, until)))
