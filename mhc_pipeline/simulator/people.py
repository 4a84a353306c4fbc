"""The broadcasters' static attributes and the hash helpers every simulated value comes from.

:class:`Model` holds what never changes about a broadcaster (names, gender, birthday, location,
languages, tags, region, popularity, follower growth and schedule parameters); model ``i`` comes
from ``random.Random(f"{seed}:model:{i}")`` (:func:`_generate_model`), so ``World(rooms=50)`` is a
prefix of ``World(rooms=10_000)`` with the same seed.  :class:`LiveState` is what every source may
know about an online model at one minute.

The 64-bit hash helpers (:func:`_key`, :func:`_hu`) and the time helpers (:func:`to_utc`,
:func:`parse_time`, :func:`_minute_of`) are where every simulated value starts.  They live apart from
:mod:`.world` (schedules, live values, rooms, ranks) because the sources use them directly and
nothing here needs a ``World``.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["Model", "LiveState", "REGIONS", "SHOWS", "DAY_MIN", "GENDER_WORDS", "to_utc", "parse_time"]

REGIONS = ("asia", "europe_russia", "northamerica", "southamerica", "other")
SHOWS = ("public", "private", "away", "hidden", "group")

DAY_MIN = 1440
# CBHours spells genders as words in get_live
GENDER_WORDS = {"f": "Female", "m": "Male", "t": "Trans", "c": "Couple"}
_MASK = (1 << 64) - 1

# ---------------------------------------------------------------------------
# hashing helpers (fast, deterministic, no global state)


def _mix64(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _hu(key: int, channel: int, n: int) -> float:
    """Uniform float in [0, 1) from (key, channel, n)."""
    return _mix64(key ^ _mix64(((channel << 48) ^ n) & _MASK)) / 18446744073709551616.0


def _key(seed: int, username: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{username}".encode(), digest_size=8).digest(), "big")


def to_utc(t: datetime) -> datetime:
    """A naive datetime is taken as UTC; an aware one is converted to UTC."""
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """ISO-8601 (``Z`` allowed); a time without an offset is taken as UTC."""
    return to_utc(datetime.fromisoformat(value.strip()))


def _minute_of(t: datetime) -> tuple[int, int]:
    """(minute bucket since the epoch, whole seconds since the epoch)."""
    ts = math.floor(to_utc(t).timestamp())
    return ts // 60, ts


# ---------------------------------------------------------------------------
# vocabularies for the static attributes

_ADJ = (
    "velvet sweet wild honey lunar golden silver crimson misty sunny shy cozy lazy happy little "
    "dreamy candy cherry peachy sugar spicy pink blue dark bright lucky magic secret tender funny "
    "crazy lovely pretty cute cool soft bold gentle rosy ruby amber jade ivory mystic cosmic electric "
    "neon urban tropical northern royal tiny red black violet purple fancy silky shiny sparkly frosty "
    "stormy rainy midnight morning evening wicked mellow dizzy fluffy juicy salty smoky gothic retro"
).split()
_NOUN = (
    "aurora kitty bunny angel rose lily luna bella sophie mia emma kate anna nika alice molly daisy "
    "fox bear wolf tiger panther dragon phoenix star moon sky ocean river storm rain cloud flower "
    "peach mango berry cookie muffin cupcake princess queen goddess doll babe girl boy guy king "
    "prince knight rider dancer gamer artist dreamer muse siren nymph fairy pixie vixen kitten "
    "panda koala owl raven dove butterfly valentina camila sasha nastya yuki sakura mika lola "
    "gabriela isabella natasha olga diana jasmine chloe zoe ruby amber"
).split()
_COUPLE = "north june sam alex max lena mike kate nick ana leo mia tom eva ivan masha".split()

_TAGS = (
    "lovense latina bigboobs smile new young natural asian ebony milf petite curvy bigass squirt "
    "feet cosplay dance hairy skinny bbw mature shy lush ohmibod interactive domi anal tattoo "
    "piercing redhead blonde brunette glasses stockings lingerie fitness yoga chill gamer music chat "
    "couple gay trans bear muscle daddy twink femboy goth pvt goal colombia russian ahegao "
    "roleplay joi cum 18 bigcock hd teasing"
).split()
# Zipf-ish weights: the first tags are the most common
_TAG_WEIGHTS = [1.0 / (i + 3) for i in range(len(_TAGS))]

_REGION_WEIGHTS = {"southamerica": 30, "europe_russia": 28, "northamerica": 20, "asia": 12, "other": 10}
_COUNTRIES = {
    "northamerica": ("US", "US", "US", "CA", "MX"),
    "southamerica": ("CO", "CO", "CO", "AR", "BR", "VE", "PE", "CL", "EC"),
    "europe_russia": ("RU", "RU", "UA", "RO", "DE", "GB", "ES", "IT", "FR", "PL", "HU", "CZ", "NL", "PT"),
    "asia": ("PH", "PH", "TH", "JP", "CN", "VN", "ID", "IN", "KR"),
    "other": ("AU", "ZA", "NZ", "KE", "NG", "IL", "TR"),
}
_LOCATIONS = {
    "northamerica": ("Miami, Florida", "Los Angeles", "Texas", "Toronto, Canada", "United States",
                     "Ciudad de México", "USA", "Las Vegas, NV", "somewhere cozy", "in your dreams"),
    "southamerica": ("Medellín, Colombia", "Bogotá", "Cali, Colombia", "Colombia", "Buenos Aires",
                     "São Paulo", "Lima, Perú", "Caracas", "Santiago", "South America", "en tu corazón 💜"),
    "europe_russia": ("Moscow", "Москва", "Saint Petersburg", "Kyiv", "Bucharest, Romania", "Berlin",
                      "London, UK", "Madrid", "Europe", "Budapest", "Praha", "in your heart🐞"),
    "asia": ("Bangkok Thailand", "Manila", "Cebu City", "Tokyo", "Asia", "Ho Chi Minh", "Jakarta",
             "Philippines", "Mumbai", "Seoul"),
    "other": ("Sydney, Australia", "Cape Town", "Auckland", "Nairobi", "Lagos", "Tel Aviv", "Earth",
              "Istanbul", "on the moon 🌙"),
}
_LANGS = {
    "northamerica": ("English", "English", "English, Spanish", "english", "English, French", "Español, English"),
    "southamerica": ("Español", "Spanish, English", "English, Spanish", "español e ingles", "Português",
                     "Spanish", "Español, English"),
    "europe_russia": ("Русский", "Russian, English", "English, Russian", "English", "Deutsch, English",
                      "Română, English", "Українська, Русский", "English, Italiano", "magyar"),
    "asia": ("english and filipino", "English, Tagalog", "ไทย, English", "日本語", "English", "中文",
             "Tiếng Việt", "Bahasa Indonesia, English", "Korean, English"),
    "other": ("English", "English, Afrikaans", "English, Swahili", "Hebrew, English", "Türkçe", "English"),
}
_EMOJI = ("✨", "💜", "💋", "🔥", "🌸", "😈", "💕", "🍑", "🌙", "😘", "🦋", "🍒")
_MOODS = ("let's have fun", "chatting and chilling", "new here, be gentle", "tip menu in bio",
          "read my bio", "lovense on", "make me smile", "PVT open")


@dataclass(frozen=True)
class Model:
    """Static attributes of one broadcaster (do not change with time)."""

    index: int
    username: str
    display_name: str
    gender: str  # f, m, t, c
    birthday: str  # "YYYY-MM-DD" or ""
    location: str
    country: str  # ISO alpha-2 or ""
    spoken_languages: str
    tags: tuple[str, ...]
    region: str
    is_hd: bool
    is_new: bool
    popularity: float  # typical viewers at a good moment
    followers_base: int  # followers at 2024-01-01
    followers_per_day: float  # growth rate (followers never decrease)
    # schedule
    activity: float  # long-run fraction of time online
    off_day_prob: float
    sessions_per_day: int
    phase_min: int  # schedule offset within the UTC day, minutes
    always_on_phase: int | None  # near-always-online models: 21 h session a day from this minute
    key: int  # 64-bit hash of (seed, username)

    @property
    def birth(self) -> tuple[int, int, int] | None:
        if not self.birthday:
            return None
        y, m, d = self.birthday.split("-")
        return int(y), int(m), int(d)

    def age_on(self, day: date) -> int | None:
        b = self.birth
        if b is None:
            return None
        years = day.year - b[0] - ((day.month, day.day) < (b[1], b[2]))
        return max(0, min(99, years))


@dataclass(frozen=True)
class LiveState:
    """What every source may know about an online model at one minute."""

    username: str
    session_start: datetime
    num_users: int
    num_followers: int
    current_show: str
    room_subject: str
    tags: tuple[str, ...]


def _age_birthday(rng: random.Random) -> str:
    if rng.random() < 0.34:
        return ""
    if rng.random() < 0.012:  # joke birthdays: age is capped at 99
        return rng.choice(("1901-01-01", "1919-11-11", "1920-02-02", "1900-12-31"))
    # ages 20..45 on 2025-06-01 (so >= 18 for any t from mid 2023 on); skewed young
    age = 20 + int(26 * rng.random() ** 1.8)
    born = date(2025, 6, 1) - timedelta(days=int(age * 365.25) + rng.randrange(365))
    return born.isoformat()


def _make_username(rng: random.Random, gender: str) -> str:
    adj, noun = rng.choice(_ADJ), rng.choice(_NOUN)
    r = rng.random()
    if gender == "c" and r < 0.5:
        a, b = rng.sample(_COUPLE, 2)
        return f"{a}_and_{b}" if rng.random() < 0.5 else f"{a}{b}{rng.randrange(1, 100)}"
    if r < 0.25:
        return f"{adj}_{noun}"
    if r < 0.50:
        n = rng.choice((rng.randrange(1, 100), rng.randrange(1985, 2006)))
        return f"{adj}_{noun}_{n}"
    if r < 0.65:
        return f"{adj}{noun}"
    if r < 0.72:
        return f"{noun}_{adj}"
    if r < 0.84:
        return f"{noun}{rng.randrange(1, 1000)}"
    if r < 0.90:
        return f"miss{noun}" if gender != "m" else f"mr{noun}"
    if r < 0.95:
        return f"x{noun}x"
    return f"_{adj}_{noun}_"


def _make_display_name(rng: random.Random, username: str, gender: str) -> str:
    if rng.random() < 0.18:
        return ""
    parts = [p for p in username.split("_") if p and not p.isdigit()]
    base = (parts[-1] if parts else username).capitalize()
    r = rng.random()
    if gender == "c" and "_and_" in username:
        a, b = username.split("_and_", 1)
        return f"{a.capitalize()} & {b.capitalize()}"
    if r < 0.30:
        return base
    if r < 0.55:
        return f"{base} {rng.choice(_EMOJI)}"
    if r < 0.70:
        return " ".join(p.capitalize() for p in parts) or base
    if r < 0.78:
        e = rng.choice(_EMOJI)
        return f"{e} {base} {e}"
    if r < 0.84:
        return rng.choice(("Лиза", "Настя 💋", "さくら", "ユキ", "Маша", "Катя ✨", "Valentína", "Ñañita"))
    if r < 0.90:
        return base.upper()
    return (f"{base} {rng.choice(_EMOJI)} {rng.choice(_MOODS)}, {rng.choice(_MOODS)}, "
            f"18+ only {rng.choice(_EMOJI)}")[:90]


def _make_tags(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.13:
        return ()
    n = rng.choices(range(1, 8), weights=(3, 4, 6, 8, 55, 10, 14))[0]
    chosen: list[str] = []
    while len(chosen) < n:
        t = rng.choices(_TAGS, weights=_TAG_WEIGHTS)[0]
        if t not in chosen:
            chosen.append(t)
    return tuple(chosen)


def _generate_model(seed: int, index: int, taken: set[str], owner: str | None,
                    always_on_phase: int | None) -> Model:
    rng = random.Random(f"{seed}:model:{index}")
    gender = rng.choices("fmtc", weights=(67, 15, 11, 7))[0]
    if owner and index == 0:
        username = owner
    else:
        username = _make_username(rng, gender)
        if username in taken or username == owner:
            username = f"{username}_{index}"
    region = rng.choices(list(_REGION_WEIGHTS), weights=list(_REGION_WEIGHTS.values()))[0]
    country = "" if rng.random() < 0.45 else rng.choice(_COUNTRIES[region])
    location = "" if rng.random() < 0.06 else rng.choice(_LOCATIONS[region])
    languages = "" if rng.random() < 0.04 else rng.choice(_LANGS[region])
    popularity = min(6000.0, math.exp(rng.gauss(2.4, 1.5)))
    followers_base = int(popularity * math.exp(rng.gauss(math.log(60), 0.9))) + rng.randrange(200)
    followers_per_day = followers_base * rng.uniform(0.0005, 0.005) + rng.uniform(0.2, 5.0)
    if always_on_phase is not None:
        popularity = max(popularity, 40.0 + 60.0 * rng.random())
    return Model(
        index=index,
        username=username,
        display_name=_make_display_name(rng, username, gender),
        gender=gender,
        birthday=_age_birthday(rng),
        location=location,
        country=country,
        spoken_languages=languages,
        tags=_make_tags(rng),
        region=region,
        is_hd=rng.random() < 0.72,
        is_new=rng.random() < 0.06,
        popularity=popularity,
        followers_base=followers_base,
        followers_per_day=followers_per_day,
        activity=rng.uniform(0.22, 0.62),
        off_day_prob=rng.uniform(0.0, 0.3),
        sessions_per_day=rng.choices((2, 3, 4), weights=(45, 35, 20))[0],
        phase_min=rng.randrange(DAY_MIN),
        always_on_phase=always_on_phase,
        key=_key(seed, username),
    )
