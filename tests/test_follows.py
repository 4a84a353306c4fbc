"""The owner's following / followers lists: landing (live and imported), completeness, quarantine,
redaction, the tracked set, and the follow history through dbt (a complete list missing one person is
exactly one unfollow; an incomplete list changes nothing; events feed the same history)."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import orjson
import pytest
import requests

from mhc_pipeline import load
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.defs.events import client as events
from mhc_pipeline.defs.follows import client as follows
from mhc_pipeline.simulator import follows as sim_follows
from tests.conftest import count, reset_database, reset_raw

SESSIONID = sim_follows.DEFAULT_SESSIONID
CSRFTOKEN = sim_follows.DEFAULT_CSRFTOKEN
COOKIES = (SESSIONID, CSRFTOKEN)
T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _res(sim, sessionid: str = SESSIONID, retries: int = 1) -> follows.FollowsResource:
    return follows.FollowsResource(url=sim.url, sessionid=sessionid, csrftoken=CSRFTOKEN, max_per_minute=6000,
                                   timeout=10, retries=retries)


def _no_cookie_in(conn, *sql: str) -> None:
    for query in sql:
        with conn.cursor() as cur:
            cur.execute(query)
            text = orjson.dumps([list(map(str, r)) for r in cur.fetchall()]).decode()
        conn.commit()
        for secret in COOKIES:
            assert secret not in text, f"a cookie leaked into: {query}"


@pytest.fixture()
def clean(conn, fresh_sim):
    load.ensure_raw_table(conn, follows.TABLE)
    reset_raw(conn, follows.TABLE)
    fresh_sim.source_state("follows").clear()
    yield conn
    fresh_sim.source_state("follows").clear()


def _land(conn, sim, direction: str, at: datetime, res=None):
    res = res or _res(sim)
    with res.client() as client:
        capture = follows.fetch_following(client, res) if direction == "following" else \
            follows.fetch_followers(client, res)
    return capture, load.land(conn, capture.batch(at, res.endpoint(follows.ONLINE_PATH)))


# ---------------------------------------------------------------------------------------------------
# landing
def test_a_complete_following_list_lands_once_with_its_verdict(clean, fresh_sim):
    truth = sim_follows.following_at(fresh_sim.world, T)
    online = {n for n in truth if fresh_sim.world.is_online(n, T)}
    assert truth and online and online != set(truth)  # both paged lists have rooms
    capture, landed = _land(clean, fresh_sim, "following", T)
    assert capture.complete, capture.verdict()
    assert (landed.rows, landed.quarantined, landed.already_landed) == (1, 0, False)
    with clean.cursor() as cur:
        cur.execute("select payload from raw.follow_lists")
        (payload,) = cur.fetchone()
    assert payload["complete"] is True and payload["reported_total"] == payload["listed"] == len(truth)
    assert sorted(u["username"] for u in payload["users"]) == sorted(truth)
    assert {u["username"] for u in payload["users"] if u["list"] == "online"} == online
    again = load.land(clean, capture.batch(T, "x"))  # the same capture again changes nothing
    assert again.already_landed and count(clean, "select count(*) from raw.follow_lists") == 1


def test_the_followers_page_is_read_page_by_page_to_the_reported_total(clean, fresh_sim):
    truth = sim_follows.followers_at(fresh_sim, T)
    assert len(truth) > sim_follows.FOLLOWERS_PAGE  # several pages
    capture, landed = _land(clean, fresh_sim, "followers", T)
    assert capture.complete and capture.direction == "follower" and capture.via == "html"
    assert sorted(capture.users) == sorted(truth) and capture.reported_total == len(truth)
    assert not set(capture.users) & {"tags", "accounts", "followed-cams"}  # site links are not users


def test_a_failed_page_makes_the_list_incomplete_and_is_quarantined(clean, fresh_sim):
    fresh_sim.inject(sim_follows.ROOMLIST_PATH, "status", status=500, count=2)  # both attempts of one page
    capture, landed = _land(clean, fresh_sim, "following", T)
    assert not capture.complete and capture.blocked is None
    assert "online room list offset 0 failed" in capture.verdict() and "HTTP 500" in capture.verdict()
    assert landed.rows == 1 and landed.quarantined == 1  # landed (reported) with its verdict, page kept
    assert count(clean, "select count(*) from raw.follow_lists where payload->>'complete' = 'false'") == 1


def test_login_redirect_and_cloudflare_page_are_named_and_never_leak_the_cookie(clean, fresh_sim, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's and the HTTP layer's included
    capture, landed = _land(clean, fresh_sim, "following", T, _res(fresh_sim, sessionid="expired-session-1234"))
    assert not capture.complete and capture.blocked == "login"
    assert "MHC_FOLLOWS_SESSIONID" in capture.verdict() and capture.listed == 0
    assert len(capture.pages) == 1  # stops at the first login page instead of asking every page
    fresh_sim.inject(sim_follows.FOLLOWERS_PATH, "html")
    capture, landed = _land(clean, fresh_sim, "followers", T + timedelta(seconds=1))
    assert not capture.complete and capture.blocked == "cloudflare" and "Cloudflare" in capture.verdict()
    assert count(clean, "select count(*) from raw.quarantine where raw_table = 'follow_lists'") == 2
    _no_cookie_in(clean, "select * from raw.follow_lists", "select * from raw.quarantine",
                  "select * from raw.batches where raw_table = 'follow_lists'")
    _land(clean, fresh_sim, "following", T + timedelta(seconds=2))  # a good run, logged at DEBUG too
    assert caplog.records and not any(secret in caplog.text for secret in COOKIES + ("expired-session-1234",))


def test_the_real_followers_page_without_a_count_is_complete_when_read_to_its_last_page(clean, fresh_sim):
    """sources.md §6.4: the real page shows user links and page links, no count. Every page answered, up
    to one with no link to a next page, and the page after it lists nobody new: complete."""
    fresh_sim.source_state("follows")["followers_total"] = False
    truth = sim_follows.followers_at(fresh_sim, T)
    pages = -(-len(truth) // sim_follows.FOLLOWERS_PAGE)
    assert pages > 1
    capture, landed = _land(clean, fresh_sim, "followers", T)
    assert capture.complete, capture.verdict()
    assert capture.reported_total is None and sorted(capture.users) == sorted(truth)
    assert len(capture.pages) == pages + 1 and f"{pages} pages" in capture.verdict()  # + the page after the last
    # an incomplete read of the same page is never complete: a failed page, or page links it cannot read
    for fault in ({"kind": "status", "status": 500, "count": 2}, {"kind": "bad_row"}):
        fresh_sim.inject(sim_follows.FOLLOWERS_PATH, **fault)
        capture, _ = _land(clean, fresh_sim, "followers", T)
        assert not capture.complete and capture.listed < len(truth), fault
    assert "no link to page 2" in capture.verdict() and "page 2 lists" in capture.verdict()


def test_a_followers_page_that_lists_nobody_is_not_an_empty_list(clean, fresh_sim):
    fresh_sim.source_state("follows").update(followers_total=False, followers_removed=set(
        sim_follows.followers_at(fresh_sim, T)))
    capture, _ = _land(clean, fresh_sim, "followers", T)
    assert capture.listed == 0 and not capture.complete and "lists nobody" in capture.verdict()


def test_a_bad_entry_is_quarantined_with_its_reason_while_the_others_land(clean, fresh_sim):
    fresh_sim.inject(sim_follows.ROOMLIST_PATH, "bad_row")
    capture, landed = _land(clean, fresh_sim, "following", T)
    assert landed.quarantined == 1 and not capture.complete
    assert capture.listed == len(sim_follows.following_at(fresh_sim.world, T)) - 1
    with clean.cursor() as cur:
        cur.execute("select reason, payload from raw.quarantine where raw_table = 'follow_lists'")
        reason, payload = cur.fetchone()
    assert "field 'username' has type int" in reason and payload["username"] == 42


# ---------------------------------------------------------------------------------------------------
# imports
def _saved_followers_page(sim, tmp_path: Path) -> Path:
    html = requests.get(sim.url + sim_follows.FOLLOWERS_PATH, params={"page": 1},
                        cookies={"sessionid": SESSIONID, "csrftoken": CSRFTOKEN}, timeout=10).text
    path = tmp_path / "followers.html"
    path.write_text(html)
    return path


def test_imports_judge_completeness_by_the_reported_total_and_land_once(clean, fresh_sim, tmp_path):
    from mhc_pipeline import cli

    # a saved followers page holds one page of the list: incomplete (50 of the reported total)
    page = _saved_followers_page(fresh_sim, tmp_path)
    capture, landed = follows.import_file(clean, page, "followers", fetched_at=T)
    assert capture.listed == sim_follows.FOLLOWERS_PAGE and not capture.complete
    assert f"reported total is {len(sim_follows.followers_at(fresh_sim, T))}" in capture.verdict()
    # a saved online_followed_rooms answer is complete when every followed room is online
    names = sim_follows.following_at(fresh_sim.world, T)
    answer = tmp_path / "online.json"
    answer.write_bytes(orjson.dumps({"online": len(names), "total": len(names),
                                     "online_rooms": [{"room": n, "image": ""} for n in names]}))
    assert follows.import_file(clean, answer, "following", fetched_at=T)[0].complete
    # an export without a total: complete only when the operator says so (through the CLI)
    export = tmp_path / "following.txt"
    export.write_text("username\n" + "\n".join(n.upper() for n in names) + "\n")
    assert cli.main(["import-follows", "following", str(export), "--fetched-at", T.isoformat()]) == 0
    assert cli.main(["import-follows", "following", str(export), "--complete"]) == 0
    assert cli.main(["import-follows", "following", str(export), "--complete"]) == 0  # again: no change
    with clean.cursor() as cur:
        cur.execute("""select payload->>'complete', payload->>'listed' from raw.follow_lists
                        where payload->>'file' = 'following.txt' order by landed_at""")
        assert cur.fetchall() == [("false", str(len(names))), ("true", str(len(names)))]
    # a saved login page is named as such and quarantined
    login = tmp_path / "login.html"
    login.write_text(requests.get(fresh_sim.url + sim_follows.LOGIN_PATH, timeout=10).text)
    capture, landed = follows.import_file(clean, login, "following", fetched_at=T)
    assert capture.blocked == "login" and landed.quarantined == 1 and not capture.complete


def test_the_tracked_set_is_the_watch_list_then_following_then_the_owners_room(clean, fresh_sim):
    load.ensure_raw_table(clean, "events")
    load.ensure_raw_table(clean, cbhours.ACTIVITY_TABLE)
    reset_raw(clean, follows.TABLE, "events", cbhours.ACTIVITY_TABLE)
    world = fresh_sim.world
    following = sim_follows.following_at(world, T)
    watch = [u for u in world.usernames[1:] if u not in following][:2]
    viewer = "room_regular_77"
    clean.autocommit = False
    load.land(clean, load.Batch(source="events", table="events", fetched_at=T, records=[
        {"method": "tip", "id": "1795000000000-0", "object": {"broadcaster": world.owner,
                                                              "user": {"username": viewer}}}]))
    tracking = cbhours.TrackingResource(watchlist=",".join(watch), owner=world.owner, max_models=100)
    assert following[0] not in cbhours.tracked_models(clean, tracking)  # no list captured yet
    _land(clean, fresh_sim, "following", T)
    tracked = cbhours.tracked_models(clean, tracking)
    assert tracked[:2] == watch and tracked[2] == world.owner
    assert set(tracked[3:3 + len(following)]) == set(following) and tracked[-1] == viewer
    # bounded by MHC_TRACKED_MAX, the following list before the owner's room
    short = cbhours.tracked_models(clean, cbhours.TrackingResource(watchlist="", owner=world.owner, max_models=4))
    assert short[0] == world.owner and set(short[1:]) <= set(following) and viewer not in short
    # an incomplete (newer) list is not used: the newest complete one is
    fresh_sim.source_state("follows")["following_removed"] = set(following)
    fresh_sim.inject(sim_follows.ONLINE_PATH, "html")
    _land(clean, fresh_sim, "following", T + timedelta(hours=1))
    assert set(following) <= set(cbhours.tracked_models(clean, tracking))


# ---------------------------------------------------------------------------------------------------
# through Dagster and dbt: one module fixture lands several days of lists and builds after each
def _defs():
    from mhc_pipeline.definitions import defs

    return defs


def _materialize(assets, run_config=None, resources=None):
    result = dg.materialize(assets, resources={**_defs().resources, **(resources or {})},
                            run_config=run_config or {}, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    return result


def _land_lists(sim, at: datetime, directions=("following", "followers"), retries: int = 1):
    return _materialize([follows.follow_lists],
                        {"ops": {"raw__follow_lists": {"config": {"fetched_at": at.isoformat(),
                                                                  "directions": list(directions)}}}},
                        {"follows": _res(sim, retries=retries)})


def test_an_expired_session_is_a_failed_check_that_names_the_setting(clean, fresh_sim):
    """The run stays green (the list is landed with its verdict and changes nothing), but the operator sees
    it where run status is watched: the list's check fails at ERROR severity and names the cookie to renew."""
    result = _materialize([follows.follow_lists],
                          {"ops": {"raw__follow_lists": {"config": {"fetched_at": T.isoformat(),
                                                                    "directions": ["following"]}}}},
                          {"follows": _res(fresh_sim, sessionid="expired-session-1234")})
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["following_list_complete"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "MHC_FOLLOWS_SESSIONID" in check.metadata["verdict"].value


def test_a_session_that_expires_mid_list_is_a_failed_check_that_names_the_setting(clean, fresh_sim):
    """An expired session is sent to the website's home page (or its login page, sources.md §6.1), here in
    the middle of the list: the list is incomplete (nothing is diffed), and its check fails at ERROR
    severity with a description that names the cookie to renew. The home page's rooms are not followers."""
    state = fresh_sim.source_state("follows")
    state.update(session_requests=2, logged_out_to="home")  # the total and the online rooms, then the home page
    result = _materialize([follows.follow_lists],
                          {"ops": {"raw__follow_lists": {"config": {"fetched_at": T.isoformat(),
                                                                    "directions": ["following"]}}}},
                          {"follows": _res(fresh_sim)})
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["following_list_complete"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "MHC_FOLLOWS_SESSIONID" in check.description and SESSIONID not in check.description
    assert check.metadata["setting"].value == "MHC_FOLLOWS_SESSIONID"
    state.update(session_requests=1, followers_total=False)  # followers (the real page): page 1, then home
    capture, _ = _land(clean, fresh_sim, "followers", T)
    assert not capture.complete and capture.blocked == "login" and "MHC_FOLLOWS_SESSIONID" in capture.verdict()
    assert capture.listed == sim_follows.FOLLOWERS_PAGE
    assert set(capture.users) <= set(sim_follows.followers_at(fresh_sim, T))
    assert count(clean, "select count(*) from raw.follow_lists where payload->>'complete' = 'true'") == 0


# after the first full build, only the follow models and what they feed (and read) are rebuilt
SUBSET = {"stg_follows__lists", "stg_follows__entries", "follow_list_captures", "follow_list_entries",
          "follow_history", "follows", "int_follows__person_evidence", "stg_events__events", "interactions",
          "int_events__person_evidence", "persons", "person_current_state", "v_person_current_state"}


def _build(full_refresh: bool = False, subset: bool = False):
    from mhc_pipeline.dbt import mhc_dbt_models

    run_config = {"ops": {"mhc_dbt_models": {"config": {"full_refresh": full_refresh}}}}
    if not subset:
        result = _materialize([mhc_dbt_models], run_config)
    else:
        keys = [k for k in mhc_dbt_models.keys if k.path[-1] in SUBSET]
        assert len(keys) == len(SUBSET)
        result = dg.materialize([mhc_dbt_models], selection=keys, resources=_defs().resources,
                                run_config=run_config, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    failed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    return result


def _history(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("""select username, direction, action, changed_at, source, change_no
                         from mhc.follow_history order by direction, username, change_no""")
        rows = cur.fetchall()
    conn.commit()
    return rows


@pytest.fixture(scope="module")
def story(pg_url, sim):
    """Day 1: complete following and followers lists. Day 2: a complete following list without one person
    (`gone`). Day 3: an incomplete following list (a failed page) without another person. Events: a viewer
    follows and unfollows the owner, another follows. After each step a dbt build; then a re-run and a
    full refresh."""
    from mhc_pipeline import db

    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        sim.clear_faults()
        sim.set_time(T)
        state = sim.source_state("follows")
        state.clear()
        day1, day2, day3 = T - timedelta(days=2), T - timedelta(days=1), T - timedelta(hours=1)
        following = sim_follows.following_at(sim.world, T)
        followers = sim_follows.followers_at(sim, T)
        gone, kept_out = following[0], following[1]
        out: dict = {"following": following, "followers": followers, "gone": gone, "kept_out": kept_out,
                     "days": (day1, day2, day3)}
        try:
            state["followers_total"] = False  # the real followers page (sources.md §6.4): no count
            out["run1"] = _land_lists(sim, day1)
            state.pop("followers_total")
            _build()
            out["after1"] = _history(conn)
            state["following_removed"] = {gone}
            _land_lists(sim, day2, ["following"])
            _build(subset=True)
            out["after2"] = _history(conn)
            state["following_removed"] = {gone, kept_out}
            sim.inject(sim_follows.ROOMLIST_PATH, "status", status=503, count=2)
            out["run3"] = _land_lists(sim, day3, ["following"])
            # the owner's room: a viewer follows, then unfollows; another follows (after day 1's list)
            owner = sim.world.owner
            sim.emit_event("follow", {"broadcaster": owner, "user": {"username": "Fan_Comes_Goes"}},
                           at=T - timedelta(seconds=120))
            sim.emit_event("unfollow", {"broadcaster": owner, "user": {"username": "fan_comes_goes"}},
                           at=T - timedelta(seconds=90))
            sim.emit_event("follow", {"broadcaster": owner, "user": {"username": "fan_stays"}},
                           at=T - timedelta(seconds=60))
            _materialize([events.events])
            _build(subset=True)
            out["after3"] = _history(conn)
            with conn.cursor() as cur:
                cur.execute("select * from mhc.follows order by direction, username")
                out["follows"] = cur.fetchall()
            _build(subset=True)
            out["rerun"] = _history(conn)
            _build(full_refresh=True, subset=True)
            out["full_refresh"] = _history(conn)
            with conn.cursor() as cur:
                cur.execute("select * from mhc.follows order by direction, username")
                out["follows_full_refresh"] = cur.fetchall()
                cur.execute("select * from mhc.v_person_current_state")
                cols = [d[0] for d in cur.description]
                out["state"] = {r[cols.index("username")]: dict(zip(cols, r)) for r in cur.fetchall()}
            yield out
        finally:
            state.clear()
            sim.clear_faults()
            sim.reset_events()
            sim.set_time(None)


def test_the_first_complete_lists_record_every_follow(story):
    day1 = story["days"][0]
    after1 = story["after1"]
    following = {r[0] for r in after1 if r[1] == "following"}
    followers = {r[0] for r in after1 if r[1] == "follower"}
    assert following == set(story["following"]) and followers == set(story["followers"])
    assert all(r[2] == "follow" and r[3] == day1 and r[4] == "list" and r[5] == 1 for r in after1)


def test_a_complete_list_missing_one_person_records_exactly_one_unfollow(story):
    new = sorted(set(story["after2"]) - set(story["after1"]))
    assert new == [(story["gone"], "following", "unfollow", story["days"][1], "list", 2)]
    assert set(story["after1"]) <= set(story["after2"])


def test_an_incomplete_list_records_nothing(story, conn):
    run3 = story["run3"]
    check = {c.check_name: c for c in run3.get_asset_check_evaluations()}["following_list_complete"]
    assert not check.passed and "HTTP 503" in check.metadata["verdict"].value
    list_rows = [r for r in story["after3"] if r[4] != "events"]
    assert sorted(list_rows) == sorted(story["after2"])  # kept_out is not unfollowed
    assert not any(r[0] == story["kept_out"] and r[2] == "unfollow" for r in story["after3"])
    assert count(conn, "select count(*) from mhc.follow_list_captures where not is_complete") == 1
    assert count(conn, "select count(*) from mhc.follow_list_captures where is_complete") == 3
    assert count(conn, """select count(*) from mhc.follow_list_captures
                           where not is_complete and problems[1] like '%%HTTP 503%%'""") == 1


def test_events_feed_the_follower_history(story):
    events_rows = [r for r in story["after3"] if r[4] == "events"]
    assert [(r[0], r[2], r[3]) for r in events_rows] == [
        ("fan_comes_goes", "follow", T - timedelta(seconds=120)),
        ("fan_comes_goes", "unfollow", T - timedelta(seconds=90)),
        ("fan_stays", "follow", T - timedelta(seconds=60)),
    ]


def test_rebuilding_and_full_refresh_give_the_same_rows(story):
    assert story["rerun"] == story["after3"]
    assert story["full_refresh"] == story["after3"]
    assert story["follows_full_refresh"] == story["follows"]


def test_the_current_state_shows_the_follow_state_and_persons_their_roles(story, conn):
    state, day1 = story["state"], story["days"][0]
    listed = story["following"][2]
    assert (state[listed]["owner_follows"], state[listed]["owner_follows_since"]) == (True, day1)
    assert state[listed]["role"] in ("model", "both")
    assert (state[story["gone"]]["owner_follows"], state[story["gone"]]["owner_follows_since"]) == (False, None)
    assert state[story["kept_out"]]["owner_follows"] is True  # the incomplete list changed nothing
    follower = story["followers"][0]
    assert (state[follower]["follows_owner"], state[follower]["follows_owner_since"]) == (True, day1)
    assert state["fan_stays"]["follows_owner"] is True and state["fan_comes_goes"]["follows_owner"] is False
    assert state["fan_stays"]["follows_owner_since"] == T - timedelta(seconds=60)
    assert count(conn, "select count(*) from mhc.follows where direction = 'following' and not is_active") == 1


def test_no_cookie_in_tables_or_dagster_metadata(story, conn):
    _no_cookie_in(conn, "select * from raw.follow_lists", "select * from raw.quarantine",
                  "select * from raw.batches", "select * from mhc.follow_list_captures")
    for result in (story["run1"], story["run3"]):
        text = " ".join(str(e) for e in result.all_events)
        assert not any(secret in text for secret in COOKIES)
        meta = result.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
        assert meta["following_complete"].value is True or meta["following_complete"].value is False
        assert not any(secret in str(v.value) for v in meta.values() for secret in COOKIES)
