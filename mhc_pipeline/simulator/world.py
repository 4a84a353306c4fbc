"""The simulated world: broadcasters with schedules, viewers and followers.

One ``World`` is the single source of truth for every simulated API (Affiliate,
CBHours and the owner's Events API now; Stats, StatBate and followed rooms later).  Everything is
a pure function of ``(seed, rooms, owner, time)``:

* static attributes of model ``i`` (:class:`Model`) come from ``(seed, i)`` alone (:mod:`.people`)
  (so ``World(rooms=50)`` is a prefix of ``World(rooms=10_000)`` with the same seed);
* broadcast sessions of a model on a UTC day come from a 64-bit hash of
  ``(seed, username, day)``; sessions start and end on whole minutes, so the set
  of online models is a function of the minute bucket;
* live values (viewers, followers, show, subject) come from hashes of
  ``(seed, username, minute bucket)``; ``seconds_online`` is ``t - session start``.

* CBHours: :meth:`World.in_trophy_db` (a fixed ~85% of the models, always the owner),
  :meth:`World.cbhours_since`, exact live ranks (:meth:`World.live_ranks`) and history rank
  estimates (:meth:`World.rank_estimate`); :meth:`World.session_slots` is the fast path for
  per-minute values over whole sessions.

No global ``random`` state is used anywhere.  Other sources must read live data
through :meth:`World.live_state` / :meth:`World.online_rooms` so that a model
online in one source is online in every other source at the same minute.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from datetime import date, datetime, timedelta

from .people import _EMOJI, _MOODS, DAY_MIN, UTC, LiveState, Model, _generate_model, _hu, _minute_of

__all__ = ["World", "finish_room"]

# hash channels (any distinct small ints)
_CH_DAY, _CH_SLOW, _CH_FAST, _CH_SHOW, _CH_SESSION, _CH_SUBJECT, _CH_JITTER, _CH_TROPHY = range(1, 9)
# followers are counted from this minute (2024-01-01T00:00Z)
_FOLLOWER_EPOCH_MIN = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) // 60

_REGION_PEAK_UTC_HOUR = {"asia": 14, "europe_russia": 20, "northamerica": 2, "southamerica": 0, "other": 12}
_GREET = ("Hi guys", "Hello", "Welcome", "Hola amores", "Привет", "hey hey", "Good vibes only",
          "Happy Friday", "Hi everyone", "Bienvenidos")
_GOALS = ("dance in costume", "oil show", "strip tease", "spin the wheel", "topless", "game time",
          "yoga session", "shower", "cum show", "lingerie change", "feet tease", "outfit change")

_SHOW_FACTOR = {"public": 1.0, "private": 0.15, "hidden": 0.3, "away": 0.5, "group": 0.6}
# cumulative thresholds for current_show per 5-minute bucket
_SHOW_CUM = (("public", 0.905), ("private", 0.965), ("away", 0.98), ("hidden", 0.992), ("group", 1.0))


class World:
    """A deterministic world of ``rooms`` broadcasters.

    ``owner`` is the pipeline owner's broadcaster account (model index 0, a
    regular schedule); pass ``owner=None`` for a world without one.  When
    ``rooms >= 20`` four models (indices 1-4) are near-always online: each
    broadcasts 21 h a day with the 3 h gaps staggered, so at least three of
    them are online at any time.
    """

    ALWAYS_ON = 4
    MINUTE_CACHE_SIZE = 4

    def __init__(self, rooms: int = 50, seed: int = 1, owner: str | None = "hudson_cage"):
        if rooms < 0:
            raise ValueError("rooms must be >= 0")
        self.rooms = rooms
        self.seed = seed
        self.owner = owner or None
        taken: set[str] = set()
        models: list[Model] = []
        for i in range(rooms):
            phase = None
            if rooms >= 20 and 1 <= i <= self.ALWAYS_ON:
                phase = (i - 1) * (DAY_MIN // self.ALWAYS_ON)
            m = _generate_model(seed, i, taken, self.owner, phase)
            taken.add(m.username)
            models.append(m)
        self._models = models
        self._by_name = {m.username: m for m in models}
        self._day_cache: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}
        self._minute_cache: OrderedDict[tuple[int, str], list[tuple[dict, int]]] = OrderedDict()
        self._lock = threading.RLock()
        self._rank_cache: OrderedDict[int, dict[str, tuple[int, int]]] = OrderedDict()
        self._ref_ranks: dict[int, tuple[list[int], dict[str, list[int]], int]] = {}

    # -- static -------------------------------------------------------------

    @property
    def models(self) -> list[Model]:
        return list(self._models)

    @property
    def usernames(self) -> list[str]:
        return [m.username for m in self._models]

    def model(self, username: str) -> Model:
        """The static attributes of ``username`` (KeyError if unknown)."""
        return self._by_name[username]

    def __contains__(self, username: object) -> bool:
        return username in self._by_name

    def __len__(self) -> int:
        return len(self._models)

    def __repr__(self) -> str:
        return f"World(rooms={self.rooms}, seed={self.seed}, owner={self.owner!r})"

    # -- schedule -----------------------------------------------------------

    def _day_sessions(self, m: Model, day: int) -> tuple[tuple[int, int], ...]:
        """Sessions (start_minute, end_minute) whose schedule belongs to UTC ``day``.

        All sessions of day ``d`` lie in ``[d*1440 + phase, (d+1)*1440 + phase)``,
        so a minute is covered by the sessions of its own day or the day before.
        """
        ck = (m.index, day)
        got = self._day_cache.get(ck)
        if got is not None:
            return got
        base = day * DAY_MIN
        if m.always_on_phase is not None:
            s = base + m.always_on_phase
            out: tuple[tuple[int, int], ...] = ((s, s + 21 * 60),)
        elif _hu(m.key, _CH_DAY, day) < m.off_day_prob:
            out = ()
        else:
            on_frac = min(0.8, m.activity / (1.0 - m.off_day_prob))
            n = m.sessions_per_day
            slot = DAY_MIN // n
            sessions = []
            for i in range(n):
                u1 = _hu(m.key, _CH_DAY, day * 16 + 1 + 2 * i)
                u2 = _hu(m.key, _CH_DAY, day * 16 + 2 + 2 * i)
                dur = int(on_frac * slot * (0.8 + 0.4 * u1))
                dur = max(30, min(slot - 10, dur))
                start = base + m.phase_min + i * slot + int(u2 * (slot - dur))
                sessions.append((start, start + dur))
            out = tuple(sessions)
        if len(self._day_cache) > 400_000:
            self._day_cache.clear()
        self._day_cache[ck] = out
        return out

    def _session_at(self, m: Model, minute: int) -> tuple[int, int] | None:
        day = minute // DAY_MIN
        for d in (day, day - 1):
            for s, e in self._day_sessions(m, d):
                if s <= minute < e:
                    return s, e
        return None

    def is_online(self, username: str, t: datetime) -> bool:
        minute, _ = _minute_of(t)
        return self._session_at(self._by_name[username], minute) is not None

    def session_start(self, username: str, t: datetime) -> datetime | None:
        minute, _ = _minute_of(t)
        s = self._session_at(self._by_name[username], minute)
        return None if s is None else datetime.fromtimestamp(s[0] * 60, UTC)

    def sessions(self, username: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Broadcast sessions (start, end) of ``username`` that overlap ``[start, end)``.

        For sources with history (CBHours activity, StatBate); consistent with
        :meth:`is_online`.
        """
        m = self._by_name[username]
        a, _ = _minute_of(start)
        b, _ = _minute_of(end)
        out = []
        for d in range(a // DAY_MIN - 1, b // DAY_MIN + 1):
            for s, e in self._day_sessions(m, d):
                if s < b and e > a:
                    out.append((datetime.fromtimestamp(s * 60, UTC), datetime.fromtimestamp(e * 60, UTC)))
        return out

    # -- live values --------------------------------------------------------

    def num_followers(self, username: str, t: datetime) -> int:
        """Followers at ``t`` (defined online or offline; never decreases with t)."""
        minute, _ = _minute_of(t)
        return self._followers(self._by_name[username], minute)

    @staticmethod
    def _followers(m: Model, minute: int) -> int:
        return max(0, m.followers_base + math.floor(m.followers_per_day * (minute - _FOLLOWER_EPOCH_MIN) / DAY_MIN))

    @staticmethod
    def _show(m: Model, minute: int) -> str:
        u = _hu(m.key, _CH_SHOW, minute // 5)
        for show, cum in _SHOW_CUM:
            if u < cum:
                return show
        return "public"

    @staticmethod
    def _viewers(m: Model, minute: int, start: int, show: str) -> int:
        # keep in step with session_slots (the same operations in the same order)
        key = m.key
        hour = (minute % DAY_MIN) / 60.0
        diurnal = 1.0 + 0.25 * math.cos((hour - _REGION_PEAK_UTC_HOUR[m.region]) * math.pi / 12.0)
        ramp = min(1.0, 0.35 + 0.65 * (minute - start) / 25.0)
        q, r = divmod(minute, 20)
        a, b = _hu(key, _CH_SLOW, q), _hu(key, _CH_SLOW, q + 1)
        f = r / 20.0
        f = f * f * (3.0 - 2.0 * f)
        slow = 0.7 + 0.6 * (a + (b - a) * f)
        fast = 0.92 + 0.16 * _hu(key, _CH_FAST, minute)
        hot = 0.75 + 0.5 * _hu(key, _CH_SESSION, start)
        return int(m.popularity * diurnal * ramp * slow * fast * hot * _SHOW_FACTOR[show])

    def session_slots(self, username: str, start: int, minutes: range) -> list[tuple[int, str, int, int]]:
        """``(minute, current_show, viewers, followers)`` of an online model at each of ``minutes``.

        ``start`` is the session's start minute and every minute must lie in that session (epoch
        minutes).  The values equal :meth:`_live`'s (the same float operations in the same order as
        :meth:`_viewers`), computed with the 5- and 20-minute hashes memoised: the fast path for
        CBHours' 60 days of 3-minute segments.
        """
        m = self._by_name[username]
        key = m.key
        pop = m.popularity
        peak = _REGION_PEAK_UTC_HOUR[m.region]
        hot = 0.75 + 0.5 * _hu(key, _CH_SESSION, start)
        fb, fpd = m.followers_base, m.followers_per_day
        shows: dict[int, str] = {}
        slow: dict[int, float] = {}
        show_of = self._show
        cos, floor, pi = math.cos, math.floor, math.pi
        out = []
        for minute in minutes:
            b5 = minute // 5
            show = shows.get(b5)
            if show is None:
                show = shows[b5] = show_of(m, minute)
            hour = (minute % DAY_MIN) / 60.0
            diurnal = 1.0 + 0.25 * cos((hour - peak) * pi / 12.0)
            ramp = min(1.0, 0.35 + 0.65 * (minute - start) / 25.0)
            q, r = divmod(minute, 20)
            a = slow.get(q)
            if a is None:
                a = slow[q] = _hu(key, _CH_SLOW, q)
            b = slow.get(q + 1)
            if b is None:
                b = slow[q + 1] = _hu(key, _CH_SLOW, q + 1)
            f = r / 20.0
            f = f * f * (3.0 - 2.0 * f)
            sl = 0.7 + 0.6 * (a + (b - a) * f)
            fast = 0.92 + 0.16 * _hu(key, _CH_FAST, minute)
            viewers = int(pop * diurnal * ramp * sl * fast * hot * _SHOW_FACTOR[show])
            followers = max(0, fb + floor(fpd * (minute - _FOLLOWER_EPOCH_MIN) / DAY_MIN))
            out.append((minute, show, viewers, followers))
        return out

    @staticmethod
    def _subject(m: Model, minute: int, start: int) -> str:
        key = m.key
        if _hu(key, _CH_SESSION, start ^ 0x5A5A) < 0.08:
            return ""
        bucket = minute // 30
        u = _hu(key, _CH_SUBJECT, bucket)
        pick = int(u * 1000)
        emoji = _EMOJI[pick % len(_EMOJI)]
        hashtags = " ".join("#" + t for t in m.tags[:5])
        goal = _GOALS[(pick // 7) % len(_GOALS)]
        kind = pick % 6
        if kind in (0, 1):
            total = 100 * (1 + (pick // 13) % 20)
            done = min(total, int(total * ((minute % 30) + 1) / 32.0))
            s = f"{_GREET[pick % len(_GREET)]} {emoji} Goal: {goal} [{total - done} tokens remaining] {hashtags}"
        elif kind == 2:
            s = f"{_GREET[(pick // 3) % len(_GREET)]}! {_MOODS[pick % len(_MOODS)]} {emoji}"
        elif kind == 3:
            s = f"Lovense Lush on - tip to make me vibe {emoji} {hashtags}"
        elif kind == 4:
            s = f"ticket show at {(pick % 9 + 1) * 111} tokens {hashtags}"
        else:
            s = f"multi-goal: {goal} {emoji} #lovense {hashtags}"
        return s.strip()[:250]

    def _live(self, m: Model, minute: int) -> tuple[int, int, str, str, int] | None:
        """(session_start_minute, num_users, current_show, subject, followers) or None."""
        sess = self._session_at(m, minute)
        if sess is None:
            return None
        start = sess[0]
        show = self._show(m, minute)
        return start, self._viewers(m, minute, start, show), show, self._subject(m, minute, start), \
            self._followers(m, minute)

    def live_state(self, username: str, t: datetime) -> LiveState | None:
        """The source-independent live state of ``username`` at ``t`` (None when offline)."""
        m = self._by_name[username]
        minute, _ = _minute_of(t)
        lv = self._live(m, minute)
        if lv is None:
            return None
        start, users, show, subject, followers = lv
        return LiveState(username, datetime.fromtimestamp(start * 60, UTC), users, followers, show,
                         subject, m.tags)

    # -- affiliate rooms ----------------------------------------------------

    @staticmethod
    def _room_core(m: Model, minute: int, today: date, lv: tuple, wm: str) -> dict:
        """The 23-key Affiliate room without a meaningful seconds_online (0)."""
        _start, users, show, subject, followers = lv
        u = m.username
        return {
            "username": u,
            "slug": u,
            "display_name": m.display_name,
            "gender": m.gender,
            "age": m.age_on(today),
            "birthday": m.birthday,
            "location": m.location,
            "country": m.country,
            "spoken_languages": m.spoken_languages,
            "tags": list(m.tags),
            "room_subject": subject,
            "current_show": show,
            "is_hd": m.is_hd,
            "is_new": m.is_new,
            "num_users": users,
            "num_followers": followers,
            "seconds_online": 0,
            "image_url": f"https://thumb.live.mmcdn.com/ri/{u}.jpg",
            "image_url_360x270": f"https://thumb.live.mmcdn.com/ri/{u}.jpg",
            "chat_room_url": f"https://chaturbate.com/in/?tour=yiMH&campaign={wm}&track=default&room={u}",
            "chat_room_url_revshare": f"https://chaturbate.com/in/?tour=LQps&campaign={wm}&track=default&room={u}",
            "iframe_embed": (f"<iframe src='https://chaturbate.com/in/?tour=Jrvi&amp;campaign={wm}&amp;track=embed"
                             f"&amp;room={u}&amp;bgcolor=white' height=528 width=850 style='border: none;'></iframe>"),
            "iframe_embed_revshare": (f"<iframe src='https://chaturbate.com/in/?tour=9oGW&amp;campaign={wm}"
                                      f"&amp;track=embed&amp;room={u}&amp;bgcolor=white' height=528 width=850 "
                                      f"style='border: none;'></iframe>"),
        }

    def minute_entries(self, t: datetime, wm: str = "SIMWM") -> list[tuple[dict, int]]:
        """Cached ``(room, session_start_epoch_seconds)`` for every online model at t's minute.

        Sorted by num_users desc then username.  The room dicts are SHARED with
        the cache: never mutate them (copy, then set ``seconds_online`` =
        ``now_epoch - start``, as :func:`finish_room` does).
        """
        minute, _ = _minute_of(t)
        ck = (minute, wm)
        with self._lock:
            got = self._minute_cache.get(ck)
            if got is not None:
                self._minute_cache.move_to_end(ck)
                return got
            today = datetime.fromtimestamp(minute * 60, UTC).date()
            entries = []
            for m in self._models:
                lv = self._live(m, minute)
                if lv is not None:
                    entries.append((self._room_core(m, minute, today, lv, wm), lv[0] * 60))
            entries.sort(key=lambda e: (-e[0]["num_users"], e[0]["username"]))
            self._minute_cache[ck] = entries
            while len(self._minute_cache) > self.MINUTE_CACHE_SIZE:
                self._minute_cache.popitem(last=False)
            return entries

    def room(self, username: str, t: datetime, wm: str = "SIMWM") -> dict | None:
        """The exact 23-key Affiliate room object of ``username`` at ``t``; None when offline."""
        m = self._by_name[username]
        minute, ts = _minute_of(t)
        lv = self._live(m, minute)
        if lv is None:
            return None
        today = datetime.fromtimestamp(minute * 60, UTC).date()
        r = self._room_core(m, minute, today, lv, wm)
        r["seconds_online"] = ts - lv[0] * 60
        return r

    def online_rooms(self, t: datetime, wm: str = "SIMWM") -> list[dict]:
        """Every online room at ``t``, sorted by num_users desc (then username): the ground truth."""
        _, ts = _minute_of(t)
        return [finish_room(r, start, ts) for r, start in self.minute_entries(t, wm)]

    def online_usernames(self, t: datetime) -> list[str]:
        return [r["username"] for r, _ in self.minute_entries(t)]

    # -- CBHours (trophy database, ranks) -----------------------------------

    TROPHY_SHARE = 0.85
    CBHOURS_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
    RANK_REF_DAY = date(2025, 1, 15)  # the reference day of :meth:`rank_estimate`
    RANK_REF_SAMPLE = 2000  # at most this many models are evaluated per reference hour

    def in_trophy_db(self, username: str) -> bool:
        """Whether CBHours serves ``username`` (its "trophy database"): a fixed ~85% of the models.

        The owner is always in it; unknown usernames are not.
        """
        m = self._by_name.get(username)
        if m is None:
            return False
        if self.owner is not None and username == self.owner:
            return True
        return _hu(m.key, _CH_TROPHY, 0) < self.TROPHY_SHARE

    def cbhours_since(self, username: str) -> datetime:
        """When CBHours' history of ``username`` begins (a day in 2024-01-01 .. 2025-02-03).

        ``get_activity`` / ``get_months`` know nothing before it.
        """
        m = self._by_name[username]
        return self.CBHOURS_EPOCH + timedelta(days=int(_hu(m.key, _CH_TROPHY, 1) * 400))

    def live_ranks(self, t: datetime) -> dict[str, tuple[int, int]]:
        """``{username: (rank, grank)}`` of every online room at t's minute (CBHours ``get_live``).

        ``rank`` is the position by viewers (num_users desc, then username) among ALL online rooms
        (1 = most viewers); ``grank`` the position within the same gender.
        """
        minute, _ = _minute_of(t)
        with self._lock:
            got = self._rank_cache.get(minute)
            if got is not None:
                return got
            ranks: dict[str, tuple[int, int]] = {}
            per_gender: dict[str, int] = {}
            for i, (room, _start) in enumerate(self.minute_entries(t)):
                g = room["gender"]
                per_gender[g] = per_gender.get(g, 0) + 1
                ranks[room["username"]] = (i + 1, per_gender[g])
            self._rank_cache[minute] = ranks
            while len(self._rank_cache) > self.MINUTE_CACHE_SIZE:
                self._rank_cache.popitem(last=False)
            return ranks

    def _reference(self, hour: int) -> tuple[list[int], dict[str, list[int]], int]:
        got = self._ref_ranks.get(hour)
        if got is not None:
            return got
        minute = (self.RANK_REF_DAY - date(1970, 1, 1)).days * DAY_MIN + hour * 60 + 30
        step = max(1, math.ceil(len(self._models) / self.RANK_REF_SAMPLE))
        every: list[int] = []
        by_gender: dict[str, list[int]] = {g: [] for g in "fmtc"}
        for m in self._models[::step]:
            sess = self._session_at(m, minute)
            if sess is None:
                continue
            v = self._viewers(m, minute, sess[0], self._show(m, minute))
            every.append(v)
            by_gender[m.gender].append(v)
        every.sort()
        for lst in by_gender.values():
            lst.sort()
        got = (every, by_gender, step)
        with self._lock:
            self._ref_ranks[hour] = got
        return got

    def rank_estimate(self, minute: int, viewers: int, gender: str) -> tuple[int, int]:
        """(rank, grank) of a room with ``viewers`` at UTC epoch ``minute``, for CBHours history.

        Exact ranks need every room's viewers at every minute, far too slow for 60 days of 3-minute
        segments; history ranks are therefore read off a reference distribution (all rooms online at
        the same hour of :attr:`RANK_REF_DAY`): 1 + how many rooms had more viewers.  Deterministic,
        monotonic in ``viewers``, ``grank <= rank``; it may differ slightly from :meth:`live_ranks`.
        """
        every, by_gender, step = self._reference((minute % DAY_MIN) // 60)
        rank = 1 + (len(every) - bisect_right(every, viewers)) * step
        lst = by_gender.get(gender, ())
        grank = 1 + (len(lst) - bisect_right(lst, viewers)) * step
        return rank, min(rank, grank)

    def jitter_noise(self, username: str, salt: int) -> float:
        """Uniform [-1, 1) noise per (username, salt), for per-request ordering jitter."""
        return 2.0 * _hu(self._by_name[username].key, _CH_JITTER, salt) - 1.0


def finish_room(core: dict, start_epoch: int, now_epoch: int) -> dict:
    """A private copy of a cached room with ``seconds_online`` for ``now_epoch``."""
    r = dict(core)
    r["tags"] = list(core["tags"])
    r["seconds_online"] = max(0, now_epoch - start_epoch)
    return r
