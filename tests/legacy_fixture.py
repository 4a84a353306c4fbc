"""A legacy MHC Control Panel database for the import tests (and the bench): the schema of
original-system.md §2, in either generation of table names, filled with rows that carry every quirk
the import must not copy along.

`create(admin_url, dbname, generation)` (re)creates database `dbname` on the same server:
- generation "new": affiliate_api_polling, statbate_api_polling, profiles.spoken_languages TEXT[];
- generation "old": broadcast_sessions, snapshots, profiles.spoken_languages TEXT.
`fill(conn, ...)` inserts the rows and returns what the tests expect (`Expected`).
Zone-less columns are written as wall-clock time in America/New_York, as the legacy containers did,
except `cbhours_activity.timestamp`: the CBHours string, asked for in UTC (`tzo=0`), stored as it came.
`add_rows` and `change_rows` are what the running legacy system does after an import: new rows,
updates in place and rows committed late.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import psycopg2
import psycopg2.extras

NY = ZoneInfo("America/New_York")
OWNER = "hudson_cage"
SUMMER = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # EDT, UTC-4
WINTER = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # EST, UTC-5


def ddl(generation: str) -> str:
    affiliate = "affiliate_api_polling" if generation == "new" else "broadcast_sessions"
    statbate = "statbate_api_polling" if generation == "new" else "snapshots"
    languages = "text[]" if generation == "new" else "text"
    return f"""
    create table persons (
        id uuid primary key default gen_random_uuid(),
        username varchar(255) not null,
        platform varchar(50) not null default 'chaturbate',
        role varchar(20) not null default 'UNKNOWN' check (role in ('MODEL','VIEWER','BOTH','UNKNOWN')),
        rid int, did int,
        first_seen_at timestamp not null default now(),
        last_seen_at timestamp not null default now(),
        is_excluded boolean default false,
        room_visit_count int default 0, last_room_visit_at timestamp,
        my_visit_count int default 0, last_my_visit_at timestamptz,
        created_at timestamp default now(), updated_at timestamp default now(),
        unique (username, platform)
    );
    -- no foreign keys below: the legacy database has rows whose person is gone
    create table {affiliate} (
        id serial primary key,
        person_id uuid,
        observed_at timestamp not null default now(),
        seconds_online int not null,
        session_start timestamp,
        current_show varchar(50),
        room_subject text,
        tags text[] default '{{}}',
        num_users int not null default 0,
        num_followers int not null default 0,
        is_hd boolean,
        image_url text, image_url_360x270 text, image_path text, image_path_360x270 text,
        created_at timestamp default now(),
        unique (person_id, observed_at)
    );
    create table cbhours_live_stats (
        id serial primary key, person_id uuid, checked_at timestamp not null,
        room_status text, gender text, is_new boolean, rank int, grank int, viewers int, followers int,
        current_show text, room_subject text, tags text[], created_at timestamp default now(),
        unique (person_id, checked_at)
    );
    create table cbhours_activity (
        id serial primary key, person_id uuid, "timestamp" timestamp not null, show_type text,
        rank int, grank int, followers int, viewers int, gender text, created_at timestamp default now(),
        unique (person_id, "timestamp")
    );
    create table {statbate} (
        id uuid primary key default gen_random_uuid(),
        person_id uuid,
        source varchar(50) check (source in ('statbate_member','statbate_model','cb_stats','manual')),
        captured_at timestamp not null,
        raw_payload jsonb not null,
        normalized_metrics jsonb,
        created_at timestamp default now(),
        unique (person_id, source, captured_at)
    );
    create table event_logs (
        id uuid primary key default gen_random_uuid(),
        "timestamp" timestamptz not null default now(),
        created_at timestamptz not null default now(),
        method varchar(50), broadcaster varchar(255) not null, username varchar(255) not null,
        raw_event jsonb not null, cb_event_id varchar(50), segment_id uuid, session_id uuid
    );
    create table interactions (
        id uuid primary key default gen_random_uuid(),
        person_id uuid not null,
        stream_session_id uuid,
        type varchar(50) check (type in ('CHAT_MESSAGE','PRIVATE_MESSAGE','DIRECT_MESSAGE','TIP_EVENT',
            'PROFILE_PASTE','CHAT_IMPORT','MANUAL_NOTE','FOLLOW','UNFOLLOW','USER_ENTER','USER_LEAVE',
            'FANCLUB_JOIN','MEDIA_PURCHASE')),
        content text not null,
        "timestamp" timestamp not null,
        source varchar(50) check (source in ('cb_events','statbate_plus','manual','dm_import')),
        metadata jsonb,
        event_log_id uuid references event_logs(id),
        tip_dm_id uuid,
        created_at timestamp default now()
    );
    create table profiles (
        id serial primary key, person_id uuid unique,
        display_name text, bio text, location text, age int, gender text, interested_in text,
        spoken_languages {languages}, tags text[], country text, is_new boolean, last_broadcast timestamp,
        following boolean default false, follower boolean default false,
        following_checked_at timestamp, follower_checked_at timestamp,
        following_since timestamp, follower_since timestamp, unfollowed_at timestamp, unfollower_at timestamp,
        cbhours_last_updated timestamp, has_cbhours_trophy boolean,
        scraped_at timestamp, created_at timestamp default now(), updated_at timestamp default now()
    );
    create table follow_history (
        id uuid primary key default gen_random_uuid(), person_id uuid,
        direction text check (direction in ('following','follower')),
        action text check (action in ('follow','unfollow')),
        source text check (source in ('events_api','profile_scrape','list_scrape','manual_import')),
        event_id uuid, created_at timestamptz not null default now()
    );
    create table follower_count_history (
        id serial primary key, person_id uuid, follower_count int, previous_count int, delta int,
        recorded_at timestamptz not null, source text, created_at timestamp default now(),
        unique (person_id, recorded_at)
    );
    -- a table the import does not bring over
    create table job_state (id serial primary key, job_name text unique, is_running boolean, config jsonb);
    insert into job_state (job_name, is_running, config) values ('affiliate-polling', true, '{{"enabled": true}}');
    """


def create(admin_url: str, dbname: str, generation: str = "new") -> str:
    """(Re)create database `dbname` with the legacy schema; returns its URL."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{dbname}" with (force)')
        cur.execute(f'create database "{dbname}"')
    conn.close()
    from urllib.parse import urlsplit

    url = urlsplit(admin_url)._replace(path="/" + dbname).geturl()
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(ddl(generation))
    conn.commit()
    conn.close()
    return url


def naive_ny(t: datetime) -> datetime:
    """How a legacy container (TZ=America/New_York) wrote the instant `t` into a zone-less column."""
    return t.astimezone(NY).replace(tzinfo=None)


def naive_utc(t: datetime) -> datetime:
    """How the legacy code stored a CBHours activity time asked for with tzo=0 (the string as it came)."""
    return t.astimezone(UTC).replace(tzinfo=None)


@dataclass
class Expected:
    persons: dict[str, str] = field(default_factory=dict)  # username -> legacy id
    models: list[str] = field(default_factory=list)
    viewers: list[str] = field(default_factory=list)
    affiliate: int = 0
    live_stats: int = 0
    activity: int = 0
    activity_nulls: int = 0  # segments whose followers the legacy code stored as NULL
    statbate_model: int = 0
    statbate_member: int = 0
    cb_stats: int = 0  # the owner's Stats API polling rows (source cb_stats in the StatBate table)
    event_logs: int = 0
    interactions_rows: int = 0
    interactions_distinct: int = 0  # after collapsing the two listeners' copies
    real_repeats: list[str] = field(default_factory=list)  # event ids of real repeats (same second, content)
    profiles: int = 0
    follow_history: int = 0
    follower_counts: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)  # raw table -> rows
    first_observed_naive: datetime | None = None  # one affiliate observed_at as written (naive NY)
    first_observed_utc: datetime | None = None


def fill(url: str, generation: str = "new", *, seed: int = 8) -> Expected:
    rng = random.Random(seed)
    ex = Expected()
    affiliate = "affiliate_api_polling" if generation == "new" else "broadcast_sessions"
    statbate = "statbate_api_polling" if generation == "new" else "snapshots"
    genders_word = ["Female", "Male", "Trans", "Couple"]
    genders_profile = ["A Woman", "Female", "f", "Shemale", "couple", "A Man"]
    conn = psycopg2.connect(url, options="-c timezone=America/New_York")
    cur = conn.cursor()

    def person(name: str, role: str, t: datetime, rid=None, did=None) -> str:
        pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        cur.execute("insert into persons (id, username, role, rid, did, first_seen_at, last_seen_at, created_at,"
                    " updated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (pid, name, role, rid, did, naive_ny(t), naive_ny(t + timedelta(days=30)), naive_ny(t),
                     naive_ny(t)))
        ex.persons[name.lower()] = pid
        return pid

    models = [f"model_{i:02d}" for i in range(15)]
    viewers = [f"viewer_{i:02d}" for i in range(15)]
    ex.models, ex.viewers = models, viewers
    ids = {}
    for i, m in enumerate(models):
        # a model first seen chatting in the owner's room stayed VIEWER in the legacy system
        role = "VIEWER" if i in (3, 4) else ("UNKNOWN" if i == 5 else "MODEL")
        name = "Model_14" if m == "model_14" else m  # an old row stored before lower-casing
        ids[m] = person(name, role, WINTER - timedelta(days=20), rid=1000 + i if i % 2 == 0 else None)
    for i, v in enumerate(viewers):
        ids[v] = person(v, "VIEWER", WINTER - timedelta(days=10), did=2000 + i if i < 5 else None)
    ids[OWNER] = person(OWNER, "MODEL", WINTER - timedelta(days=30))
    ghost = str(uuid.uuid4())  # a person id no longer in persons

    # Affiliate: one row per broadcast, updated in place (observed_at = the last poll)
    for i, m in enumerate(models):
        for b, base in enumerate((WINTER, WINTER + timedelta(days=2), SUMMER, SUMMER + timedelta(days=2))):
            start = base + timedelta(minutes=10 * i)
            secs = 3600 + 60 * i
            observed = start + timedelta(seconds=secs)
            cur.execute(
                f"insert into {affiliate} (person_id, observed_at, seconds_online, session_start, current_show,"
                " room_subject, tags, num_users, num_followers, is_hd, image_url, image_url_360x270, created_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (ids[m], naive_ny(observed), secs, naive_ny(start), rng.choice(["public", "private", "group"]),
                 f"subject {m} {b}", ["tag1", f"tag_{m}"], 100 + i, 5000 + 10 * i + b, True, None,
                 f"https://img.example/{m}.jpg", naive_ny(start)))
            ex.affiliate += 1
            if ex.first_observed_naive is None:
                ex.first_observed_naive, ex.first_observed_utc = naive_ny(observed), observed
    cur.execute(f"insert into {affiliate} (person_id, observed_at, seconds_online, session_start, created_at) "
                "values (%s, %s, 60, %s, %s)", (ghost, naive_ny(SUMMER), naive_ny(SUMMER), naive_ny(SUMMER)))
    ex.quarantined["legacy_affiliate"] = 1

    # CBHours live: gender in words; Offline rows
    for i, m in enumerate(models):
        for k in range(4):
            t = SUMMER + timedelta(days=k, minutes=i)
            online = k % 2 == 0
            cur.execute(
                "insert into cbhours_live_stats (person_id, checked_at, room_status, gender, is_new, rank, grank,"
                " viewers, followers, current_show, room_subject, tags, created_at) values"
                " (%s, %s, %s, %s, false, %s, %s, %s, %s, %s, %s, %s, %s)",
                (ids[m], naive_ny(t), "Online" if online else "Offline", genders_word[i % 4],
                 100 + i if online else None, 10 + i if online else None, 50 if online else None,
                 6000 + i + k if online else None, "public" if online else None,
                 "live subject" if online else None, ["cbh"] if online else None, naive_ny(t)))
            ex.live_stats += 1

    # CBHours activity: "0" was stored as NULL; the segment time is UTC (tzo=0), created_at New York
    for i, m in enumerate(models[:5]):
        for k in range(8):
            t = SUMMER + timedelta(minutes=3 * k + 60 * i)
            null = k % 3 == 0
            cur.execute(
                'insert into cbhours_activity (person_id, "timestamp", show_type, rank, grank, followers, viewers,'
                " gender, created_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (ids[m], naive_utc(t), "_public", 100 + k, 10 + k, None if null else 6000 + k,
                 None if null else 40 + k, "female", naive_ny(t + timedelta(hours=1))))
            ex.activity += 1
            ex.activity_nulls += null

    # StatBate (the `source` CHECK values); one raw_payload that is not an object
    for i, m in enumerate(models[:10]):
        payload = {"name": m, "rid": 1000 + i, "gender": i % 4, "rank": 300 + i,
                   "sessions": {"count": 5}, "income": {"usd": 100}, "tags": [{"name": "tag1"}]}
        cur.execute(f"insert into {statbate} (person_id, source, captured_at, raw_payload, created_at) "
                    "values (%s, 'statbate_model', %s, %s, %s)",
                    (ids[m], naive_ny(WINTER + timedelta(hours=i)), orjson.dumps(payload).decode(),
                     naive_ny(WINTER + timedelta(hours=i))))
        ex.statbate_model += 1
    for i, v in enumerate(viewers[:5]):
        payload = {"name": v, "did": 2000 + i, "all_time_tokens": 1000 * i, "last_tip_to": OWNER}
        cur.execute(f"insert into {statbate} (person_id, source, captured_at, raw_payload, created_at) "
                    "values (%s, 'statbate_member', %s, %s, %s)",
                    (ids[v], naive_ny(WINTER + timedelta(hours=i)), orjson.dumps(payload).decode(),
                     naive_ny(WINTER + timedelta(hours=i))))
        ex.statbate_member += 1
    for i in range(3):  # the owner's Stats API answers, written by the legacy /api/stats read endpoint
        payload = {"username": OWNER, "token_balance": 5000 + i, "tips_in_last_hour": None, "votes_up": 10,
                   "votes_down": 1, "satisfaction_score": 90, "last_broadcast": -1, "time_online": -1,
                   "num_followers": 7000 + i, "num_viewers": 0, "num_registered_viewers": 0,
                   "num_tokened_viewers": 0}
        cur.execute(f"insert into {statbate} (person_id, source, captured_at, raw_payload, created_at) "
                    "values (%s, 'cb_stats', %s, %s, %s)",
                    (ids[OWNER], naive_ny(WINTER + timedelta(minutes=5 * i)), orjson.dumps(payload).decode(),
                     naive_ny(WINTER + timedelta(minutes=5 * i))))
        ex.cb_stats += 1
    cur.execute(f"insert into {statbate} (person_id, source, captured_at, raw_payload, created_at) "
                "values (%s, 'statbate_model', %s, %s, %s)",
                (ids[models[11]], naive_ny(WINTER), '"<html>Just a moment...</html>"', naive_ny(WINTER)))
    ex.quarantined["legacy_statbate"] = 1

    # Events: every event handled by two listeners -> two event_logs rows and two interactions
    def event_log(t: datetime, method: str, user: str, event_id: str | None, envelope: bool, cb_id: bool) -> str:
        eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        obj = {"broadcaster": OWNER, "user": {"username": user}}
        raw = {"method": method, "id": event_id, "object": obj} if envelope else obj
        cur.execute("insert into event_logs (id, \"timestamp\", created_at, method, broadcaster, username, raw_event,"
                    " cb_event_id) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (eid, t, t, method, OWNER, user, orjson.dumps(raw).decode(),
                     event_id if cb_id else None))
        ex.event_logs += 1
        return eid

    def interaction(user: str, kind: str, content: str, t: datetime, log_id: str | None, meta: dict,
                    pid: str | None = None) -> None:
        cur.execute("insert into interactions (person_id, type, content, \"timestamp\", source, metadata,"
                    " event_log_id, created_at) values (%s, %s, %s, %s, 'cb_events', %s, %s, %s)",
                    (pid or ids[user], kind, content, naive_ny(t), orjson.dumps(meta).decode(), log_id,
                     naive_ny(t)))
        ex.interactions_rows += 1

    kinds = [("chatMessage", "CHAT_MESSAGE"), ("tip", "TIP_EVENT"), ("follow", "FOLLOW"), ("userEnter", "USER_ENTER")]
    base = SUMMER + timedelta(days=5)
    for n in range(40):  # with a Chaturbate event id: collapse by it
        user = viewers[n % 15]
        method, kind = kinds[n % 4]
        t = base + timedelta(seconds=37 * n, milliseconds=123)
        cb_id = f"{int(t.timestamp() * 1000)}-{n}"
        content = {"CHAT_MESSAGE": f"message {n}", "TIP_EVENT": "Tipped 25 tokens", "FOLLOW": "Followed",
                   "USER_ENTER": "Entered room"}[kind]
        meta = {"broadcaster": OWNER, "tokens": 25 if kind == "TIP_EVENT" else None, "isAnon": False}
        # listener 1 (web): cb_event_id filled; listener 2 (worker): only inside the raw envelope
        for listener, delay in ((0, 0.2), (1, 0.6)):
            log = event_log(t, method, user, cb_id, envelope=True, cb_id=listener == 0)
            interaction(user, kind, content, t + timedelta(seconds=delay), log, meta)
        ex.interactions_distinct += 1
    for n in range(15):  # before event ids were kept: collapse by (type, person, content, second)
        user = viewers[n]
        t = base - timedelta(days=3, seconds=-71 * n)
        for delay in (0.1, 0.7):  # both copies inside the same second
            interaction(user, "CHAT_MESSAGE", f"old message {n}", t.replace(microsecond=0) + timedelta(seconds=delay),
                        None, {"broadcaster": OWNER})
        ex.interactions_distinct += 1
    for n in range(3):  # real repeats: the same text in the same second, two distinct events
        user = viewers[n]
        t = base + timedelta(hours=2, seconds=10 * n)
        for seq in (0, 1):
            cb_id = f"{int(t.timestamp() * 1000)}-{seq}"
            log = event_log(t, "chatMessage", user, cb_id, envelope=True, cb_id=True)
            interaction(user, "CHAT_MESSAGE", "hi", t.replace(microsecond=0) + timedelta(milliseconds=100 + seq),
                        log, {"broadcaster": OWNER})
            ex.real_repeats.append(cb_id)
            ex.interactions_distinct += 1
    interaction(viewers[0], "CHAT_MESSAGE", "from a deleted person", base, None, {"broadcaster": OWNER}, pid=ghost)
    ex.quarantined["legacy_interactions"] = 1
    # an event_logs row whose raw event is not an object (cannot be parsed)
    cur.execute("insert into event_logs (broadcaster, username, raw_event) values (%s, %s, %s)",
                (OWNER, viewers[0], "[1, 2, 3]"))
    ex.event_logs += 1
    ex.quarantined["legacy_event_logs"] = 1

    # profiles: gender in words and codes; spoken_languages TEXT[] or TEXT by generation
    for i, m in enumerate(models):
        langs = ["English", "Spanish"] if generation == "new" else "English, Spanish"
        t = SUMMER - timedelta(days=1)
        cur.execute(
            "insert into profiles (person_id, display_name, location, age, gender, spoken_languages, tags, country,"
            " following, following_checked_at, following_since, scraped_at, created_at, updated_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (ids[m], f"Model {i}", "Somewhere", 20 + i, genders_profile[i % len(genders_profile)], langs,
             ["profile_tag"], "US", i < 5, naive_ny(t) if i < 5 else None,
             naive_ny(t - timedelta(days=30)) if i < 5 else None, naive_ny(t), naive_ny(t - timedelta(days=60)),
             naive_ny(t)))
        ex.profiles += 1
    for _i, v in enumerate(viewers[:5]):
        t = SUMMER - timedelta(days=2)
        cur.execute("insert into profiles (person_id, follower, follower_checked_at, created_at, updated_at)"
                    " values (%s, true, %s, %s, %s)", (ids[v], naive_ny(t), naive_ny(t), naive_ny(t)))
        ex.profiles += 1

    # follow_history (timestamptz) and follower_count_history
    for i, m in enumerate(models[:5]):
        cur.execute("insert into follow_history (person_id, direction, action, source, created_at)"
                    " values (%s, 'following', 'follow', 'list_scrape', %s)",
                    (ids[m], WINTER - timedelta(days=30 - i)))
        ex.follow_history += 1
    cur.execute("insert into follow_history (person_id, direction, action, source, created_at)"
                " values (%s, 'following', 'follow', 'list_scrape', %s),"
                " (%s, 'following', 'unfollow', 'list_scrape', %s)",
                (ids[models[6]], WINTER - timedelta(days=20), ids[models[6]], WINTER - timedelta(days=5)))
    ex.follow_history += 2
    for i, m in enumerate(models[:10]):
        cur.execute("insert into follower_count_history (person_id, follower_count, previous_count, delta,"
                    " recorded_at, source) values (%s, %s, %s, 10, %s, 'affiliate_api')",
                    (ids[m], 5010 + i, 5000 + i, SUMMER + timedelta(hours=i)))
        ex.follower_counts += 1
    conn.commit()
    conn.close()
    return ex


def add_rows(url: str, generation: str = "new") -> dict[str, int]:
    """New legacy rows after a first import: two Affiliate broadcasts, three CBHours live checks, one
    interaction written twice (two listeners), one person. Returns raw table -> new rows."""
    affiliate = "affiliate_api_polling" if generation == "new" else "broadcast_sessions"
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    later = SUMMER + timedelta(days=20)
    cur.execute("insert into persons (username, role, first_seen_at, last_seen_at, created_at, updated_at)"
                " values ('late_model', 'MODEL', %s, %s, %s, %s) returning id",
                (naive_ny(later),) * 4)
    late = cur.fetchone()[0]
    cur.execute("select id from persons where username = 'model_00'")
    m0 = cur.fetchone()[0]
    for pid, dt in ((late, 0), (m0, 30)):
        t = later + timedelta(minutes=dt)
        cur.execute(f"insert into {affiliate} (person_id, observed_at, seconds_online, session_start, current_show,"
                    " num_users, num_followers) values (%s, %s, 600, %s, 'public', 10, 700)",
                    (pid, naive_ny(t + timedelta(seconds=600)), naive_ny(t)))
    for k in range(3):
        t = later + timedelta(minutes=k)
        cur.execute("insert into cbhours_live_stats (person_id, checked_at, room_status, gender, followers)"
                    " values (%s, %s, 'Online', 'Female', 800)", (late, naive_ny(t)))
    for delay in (0.1, 0.4):
        cur.execute("insert into interactions (person_id, type, content, \"timestamp\", source, metadata)"
                    " values (%s, 'CHAT_MESSAGE', 'late hello', %s, 'cb_events', %s)",
                    (late, naive_ny(later.replace(microsecond=0) + timedelta(seconds=delay)),
                     '{"broadcaster": "hudson_cage"}'))
    conn.commit()
    conn.close()
    return {"legacy_persons": 1, "legacy_affiliate": 2, "legacy_cbhours_live_stats": 3, "legacy_interactions": 2}


RENAMED = "Model 2 renamed"


def change_rows(url: str, generation: str = "new") -> dict[str, int]:
    """What the running legacy system does to rows an import already read (original-system.md §1.5, §2):
    - updates in place: the latest StatBate row of model_02 gets a new answer and a new captured_at
      while its created_at stays (two rows per person and source, the latest updated); model_02's
      profile gets a new display name and viewer_14 is flipped to MODEL by StatBate (the updated_at
      triggers of persons and profiles move updated_at; written here explicitly, at a fixed time);
    - late commits: an Affiliate row of model_07 and a chat message of viewer_05 whose transactions
      began before the import and committed after it: their times are 10 minutes below the newest
      ones that import read.
    Returns raw table -> rows the next import must land."""
    affiliate = "affiliate_api_polling" if generation == "new" else "broadcast_sessions"
    statbate = "statbate_api_polling" if generation == "new" else "snapshots"
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    at = naive_ny(SUMMER + timedelta(days=20, hours=1))
    cur.execute("select id from persons where username = %s", ("model_02",))
    m2 = cur.fetchone()[0]
    cur.execute(f"update {statbate} set captured_at = %s, raw_payload = raw_payload || '{{\"rank\": 290}}'"
                " where person_id = %s and source = 'statbate_model'", (at, m2))
    cur.execute("update profiles set display_name = %s, updated_at = %s where person_id = %s", (RENAMED, at, m2))
    cur.execute("update persons set role = 'MODEL', rid = 3014, last_seen_at = %s, updated_at = %s"
                " where username = 'viewer_14'", (at, at))
    cur.execute(f"select max(observed_at) - interval '10 minutes' from {affiliate}")
    late = cur.fetchone()[0]
    cur.execute(f"insert into {affiliate} (person_id, observed_at, seconds_online, session_start, current_show,"
                " num_users, num_followers, created_at) select id, %s, 600, %s, 'public', 10, 700, %s"
                " from persons where username = 'model_07'", (late, late - timedelta(seconds=600), late))
    cur.execute("select max(created_at) - interval '10 minutes' from interactions")
    late = cur.fetchone()[0]
    cur.execute("insert into interactions (person_id, type, content, \"timestamp\", source, metadata, created_at)"
                " select id, 'CHAT_MESSAGE', 'late commit', %s, 'cb_events', %s, %s from persons"
                " where username = 'viewer_05'", (late, '{"broadcaster": "hudson_cage"}', late))
    conn.commit()
    conn.close()
    return {"legacy_statbate": 1, "legacy_profiles": 1, "legacy_persons": 1, "legacy_affiliate": 1,
            "legacy_interactions": 1}


def checksums(url: str) -> dict[str, str]:
    """md5 of every table's rows (in a stable order) in the public schema."""
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute("select table_name from information_schema.tables where table_schema = 'public' "
                "and table_type = 'BASE TABLE' order by 1")
    out = {}
    for (table,) in cur.fetchall():
        cur.execute(f'select count(*), md5(coalesce(string_agg(t::text, chr(10) order by t::text), \'\')) '
                    f'from "{table}" t')
        n, digest = cur.fetchone()
        out[table] = f"{n}:{digest}"
    conn.close()
    return out
