"""One bad source row never stops the product (issue 17, item 1), table-driven over all seven inputs.

Every input (the six sources and the legacy database) lands good rows next to every kind of bad row its
format allows: blank and whitespace strings, unknown names and 404 answers, wrong types, unknown codes,
case variants, duplicates. Then ONE dbt build, through Dagster, as production runs it. For every case:

- the build succeeds (no error-severity check fails: those guard the pipeline's own invariants);
- every good row reaches the product (persons, the history table, the merged state);
- every bad row is visible with its reason: set aside at staging (`stg_<source>__rejects`, and the
  warning check `no_rows_set_aside` names count and reason), refused by the loader (`raw.quarantine`),
  or, for a StatBate 404, kept in the StatBate history as a not-found answer that makes no person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import orjson
import pytest

from mhc_pipeline import db, load
from mhc_pipeline.load import Batch
from tests import legacy_fixture as lf
from tests.conftest import reset_database

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
AS_OF = T + timedelta(minutes=2)
SIM = "http://127.0.0.1:1"  # requests as the sources record them (never fetched here)


def _room(name: str, **over) -> dict:
    room = {"username": name, "display_name": name.title(), "gender": "f", "age": 25, "birthday": "2001-01-01",
            "location": "here", "country": "CO", "spoken_languages": "English", "tags": ["new"],
            "room_subject": "hello", "current_show": "public", "is_hd": True, "is_new": False, "num_users": 10,
            "num_followers": 100, "seconds_online": 600, "image_url": f"https://img/{name}.jpg", "slug": name}
    room.update(over)
    return room


def _cb_room(**over) -> dict:
    room = {"room_status": "Online", "gender": "Female", "is_new": False, "rank": 5, "grank": 1, "viewers": 10,
            "followers": 100, "current_show": "public", "room_subject": "hi", "tags": ["new"]}
    room.update(over)
    return room


def _event(eid: str, method: str, user: str | None, **obj) -> dict:
    body = {"broadcaster": lf.OWNER, **obj}
    if user is not None:
        body["user"] = {"username": user, "gender": obj.pop("gender", "m"), "inFanclub": False, "isMod": False,
                        "hasTokens": True, "recentTips": "none", "subgender": ""}
        body.pop("gender", None)
    return {"id": eid, "method": method, "object": body}


def _ms(t: datetime, seq: int) -> str:
    return f"{int(t.timestamp() * 1000)}-{seq}"


@dataclass(frozen=True)
class Case:
    input: str
    kind: str
    good: tuple[str, ...] = ()  # usernames that must reach persons
    rejected: tuple[str, ...] = ()  # (username or '' for blank) set aside at staging with this reason ...
    reason: str = ""  # ... a substring of the reason
    quarantined: str = ""  # a substring of a raw.quarantine reason
    once: tuple[str, str] | None = None  # (history table, username): exactly one live row (duplicates, case)


CASES = [
    # Affiliate: through the real saved-crawl reader (mhc land), so the loader's validation runs
    Case("affiliate", "good rooms", good=("aff_good_one", "aff_good_two")),
    Case("affiliate", "blank username", quarantined="field 'username' is empty"),
    Case("affiliate", "wrong type", quarantined="field 'num_users' has type str"),
    Case("affiliate", "unknown show code", rejected=("aff_vip",), reason="unknown show type 'vip_show'"),
    Case("affiliate", "unknown gender code", rejected=("aff_alien",), reason="unknown gender code 'x'"),
    Case("affiliate", "duplicate and case variant", good=("aff_twice",), once=("affiliate_api_snapshots", "aff_twice")),
    # CBHours live
    Case("cbhours", "good models", good=("cb_good",)),
    Case("cbhours", "blank username", rejected=("", "   "), reason="blank or missing username"),
    Case("cbhours", "unknown room status", rejected=("cb_sleeping",), reason="unknown room_status 'Sleeping'"),
    Case("cbhours", "unknown show code", rejected=("cb_vip",), reason="unknown show type 'vip'"),
    Case("cbhours", "case variant", good=("cb_case",), once=("cbhours_live_stats", "cb_case")),
    Case("cbhours", "wrong type", rejected=("cb_wrong",), reason="viewers is not a whole number: 'lots'"),
    # Events API
    Case("events", "good events", good=("ev_good_viewer",)),
    Case("events", "malformed id", rejected=("ev_bad_id",), reason="malformed event id 'not-an-id'"),
    Case("events", "blank user", rejected=("",), reason="event user without a username"),
    Case("events", "unknown gender code", rejected=("ev_alien",), reason="unknown gender code 'q'"),
    Case("events", "replayed event and case variant", good=("ev_case",), once=("interactions", "ev_case")),
    # Stats API
    Case("stats", "good snapshot", good=(lf.OWNER,)),
    Case("stats", "blank username", rejected=("  ",), reason="blank or missing username"),
    Case("stats", "same cycle twice", good=(lf.OWNER,), once=("snapshots", lf.OWNER)),
    # StatBate
    Case("statbate", "good model and tips", good=("sb_good", "sb_tipper")),
    Case("statbate", "unknown name (404)"),  # checked on its own below
    Case("statbate", "blank tipper name", rejected=("sb_good",), reason="tip without a member username"),
    Case("statbate", "wrong type", rejected=("sb_x",), reason="tokens missing or not an integer"),
    Case("statbate", "unknown gender code", rejected=("sb_alien",), reason="unknown gender code '9'"),
    # following / followers lists
    Case("follows", "good entries", good=("fo_good",)),
    Case("follows", "blank username", rejected=("", "  "), reason="blank or missing username"),
    Case("follows", "duplicate and case variant", good=("fo_twice",), once=("follow_list_entries", "fo_twice")),
    # the legacy database (through the real import)
    Case("legacy", "good persons", good=("leg_good",)),
    Case("legacy", "blank chat message", rejected=("leg_blank",), reason="blank message content (CHAT_MESSAGE)"),
    Case("legacy", "unknown activity show code", rejected=("leg_good",), reason="unknown show type 'vip_only'"),
    Case("legacy", "unknown profile gender", rejected=("leg_alien",), reason="unknown gender code 'alien'"),
    Case("legacy", "case variant persons", good=("leg_case",)),
    Case("legacy", "a namesake on another platform", good=("leg_nova",),
         quarantined="'leg_nova' is on platform 'stripchat': only Chaturbate persons are imported"),
    Case("legacy", "a person with a blank username", quarantined="has a blank username (interactions id"),
]


def _land(conn, source: str, table: str, records: list, requests: list[str], fetched_at: datetime = T,
          scope: str = "") -> None:
    load.land(conn, Batch(source=source, table=table, fetched_at=fetched_at, records=records, requests=requests,
                          scope=scope))


def _land_everything(conn, pg_url: str, tmp_path) -> None:
    from mhc_pipeline.defs.affiliate import client as affiliate
    from mhc_pipeline.defs.legacy import client as legacy

    # Affiliate: one saved page, read as a live crawl is (validation, quarantine, duplicates dropped)
    page = {"count": 7, "results": [
        _room("aff_good_one"), _room("aff_good_two"), _room(""), _room("aff_wrong", num_users="lots"),
        _room("aff_vip", current_show="vip_show"), _room("aff_alien", gender="x"),
        _room("aff_twice"), _room("AFF_Twice")]}
    saved = tmp_path / "crawl.json"
    saved.write_bytes(orjson.dumps(page))
    load.land(conn, affiliate.batch_from_file(saved, T))

    # CBHours live: one cycle
    cycle = {"data": {"cb_good": _cb_room(), "": _cb_room(), "   ": _cb_room(),
                      "cb_sleeping": _cb_room(room_status="Sleeping"), "cb_vip": _cb_room(current_show="vip"),
                      "cb_case": _cb_room(), "CB_Case": _cb_room(), "cb_wrong": _cb_room(viewers="lots")}}
    _land(conn, "cbhours", "cbhours_live", [cycle], [f"{SIM}/api.php?action=get_live&usernames=cb_good"])

    # Events API: one answer
    t = T - timedelta(minutes=1)
    events = [_event(_ms(t, 1), "chatMessage", "ev_good_viewer", message={"message": "hello"}),
              _event("not-an-id", "chatMessage", "ev_bad_id", message={"message": "x"}),
              _event(_ms(t, 2), "userEnter", "   "),
              _event(_ms(t, 3), "userEnter", "ev_alien", gender="q"),
              _event(_ms(t, 4), "follow", "EV_Case"), _event(_ms(t, 4), "follow", "EV_Case")]
    _land(conn, "events", "events", events, [f"{SIM}/events/{lf.OWNER}/***/"])

    # Stats API: the owner's snapshot, a blank-username one, and the same cycle landed again
    snap = {"username": lf.OWNER, "token_balance": 10, "tips_in_last_hour": 1, "votes_up": 1, "votes_down": 0,
            "satisfaction_score": 100, "last_broadcast": "2026-11-20T17:00:00", "time_online": 10,
            "num_followers": 5, "num_viewers": 1, "num_registered_viewers": 1, "num_tokened_viewers": 1}
    stats_request = f"{SIM}/statsapi/?username={lf.OWNER}&token=***"
    _land(conn, "stats", "stats_api", [snap], [stats_request])
    _land(conn, "stats", "stats_api", [snap], [stats_request])  # the same batch: nothing new
    _land(conn, "stats", "stats_api", [{**snap, "username": "  "}], [stats_request], T + timedelta(seconds=1))

    # StatBate: a found model, an unknown name (404), tips with a blank name and a wrong-typed amount
    info = lambda name, gender=1: {"data": {"rid": 5, "name": name, "rank": 3, "gender": gender, "tags": [],  # noqa: E731
                                            "income": {"usd": 1.0, "tokens": 20},
                                            "sessions": {"count": 1, "total_duration": 60, "average_duration": 60}},
                                   "meta": {"site": "chaturbate",
                                            "range": ["2026-10-21 18:00:00", "2026-11-20 18:00:00"]}}
    base = f"{SIM}/statbate/api/model/chaturbate"
    _land(conn, "statbate", "statbate_model_info",
          [info("sb_good"), {"error": "Model not found"}, info("sb_alien", gender=9)],
          [f"{base}/sb_good/info", f"{base}/zz_nobody_here/info", f"{base}/sb_alien/info"])
    _land(conn, "statbate", "statbate_tips",
          [{"data": [{"name": "sb_tipper", "time": "2026-11-20 17:00:00", "tokens": 25, "usd": 1.25, "did": 7},
                     {"name": "", "time": "2026-11-20 17:01:00", "tokens": 5, "usd": 0.25, "did": 8}]},
           {"data": [{"name": "sb_x", "time": "2026-11-20 17:02:00", "tokens": "many", "usd": 0.1, "did": 9}]}],
          [f"{base}/sb_good/tips?page=1", f"{base}/sb_wrongtype/tips?page=1"])

    # following list: one complete capture
    users = [{"username": n, "list": "online", "room": {}} for n in ("fo_good", "", "  ", "fo_twice", "FO_Twice")]
    _land(conn, "follows", "follow_lists",
          [{"direction": "following", "via": "api", "complete": True, "reported_total": 5, "listed": 5,
            "pages": [], "users": users, "verdict": "complete"}], [f"{SIM}/follow/api/online_followed_rooms/"],
          scope="following")

    # the legacy database: the fixture, plus bad rows its schema allows, imported for real
    admin = db._with_database(pg_url, "postgres")
    legacy_url = lf.create(admin, "legacy_bad_rows", "new")
    lf.fill(legacy_url, "new")
    with db.connection(legacy_url) as lconn, lconn.cursor() as cur:
        ids = {}
        for name in ("leg_good", "leg_blank", "leg_alien", "leg_case", "LEG_Case", "leg_nova", " "):
            cur.execute("insert into persons (username, role) values (%s, 'VIEWER') returning id", (name,))
            ids[name] = cur.fetchone()[0]
        # the original keyed persons on (username, platform): a Stripchat namesake is someone else, whose
        # profile must not become leg_nova's; a person with a blank username cannot be anyone's
        cur.execute("insert into persons (username, platform, role) values ('leg_nova', 'stripchat', 'MODEL') "
                    "returning id")
        ids["stripchat"] = cur.fetchone()[0]
        cur.execute("insert into profiles (person_id, display_name) values (%s, 'Nova on Stripchat')",
                    (ids["stripchat"],))
        summer = lf.naive_ny(lf.SUMMER)
        cur.execute("""insert into interactions (person_id, type, content, "timestamp", source, metadata)
                       values (%s, 'CHAT_MESSAGE', 'hi', %s, 'cb_events', '{}'),
                              (%s, 'CHAT_MESSAGE', '', %s, 'cb_events', '{}'),
                              (%s, 'CHAT_MESSAGE', '   ', %s, 'cb_events', '{}'),
                              (%s, 'FOLLOW', '', %s, 'cb_events', '{}'),
                              (%s, 'CHAT_MESSAGE', 'hello', %s, 'cb_events', '{}'),
                              (%s, 'CHAT_MESSAGE', 'from nobody', %s, 'cb_events', '{}')""",
                    (ids["leg_good"], summer, ids["leg_blank"], summer, ids["leg_blank"],
                     summer + timedelta(seconds=5), ids["leg_good"], summer + timedelta(seconds=9),
                     ids["leg_nova"], summer + timedelta(seconds=11), ids[" "], summer + timedelta(seconds=13)))
        cur.execute("""insert into cbhours_activity (person_id, "timestamp", show_type, viewers)
                       values (%s, %s, 'vip_only', 3)""", (ids["leg_good"], summer))
        cur.execute("insert into profiles (person_id, gender) values (%s, 'alien')", (ids["leg_alien"],))
        lconn.commit()
    legacy.import_legacy(conn, legacy_url, progress=False)


@pytest.fixture(scope="module")
def built(pg_url, sim, tmp_path_factory):
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        conn.autocommit = False
        _land_everything(conn, pg_url, tmp_path_factory.mktemp("bad-rows"))
    result = dg.materialize([mhc_dbt_models], resources=defs.resources, raise_on_error=False,
                            run_config={"ops": {"mhc_dbt_models": {"config": {"as_of": AS_OF.isoformat()}}}})
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        yield result, conn


def _one(conn, sql: str, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def test_the_build_succeeds_with_every_kind_of_bad_row_landed(built):
    result, _ = built
    failed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert result.success and not failed, failed
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"persons", "person_current_state", "v_person_current_state"} <= keys


def test_the_operator_sees_a_warning_check_per_source_naming_count_and_reason(built):
    result, _ = built
    checks = {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()
              if c.check_name.startswith("no_rows_set_aside")}
    for source in ("affiliate", "cbhours", "events", "stats", "statbate", "follows", "legacy"):
        check = checks[f"stg_{source}__rejects"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN, source
        assert check.metadata["rows_set_aside"].value > 0
        assert "set aside in the last day" in check.description and "select * from staging." in check.description
    events = checks["stg_events__rejects"]
    assert "malformed event id 'not-an-id'" in events.description
    assert "malformed event id" in events.metadata["reasons"].value


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.input}:{c.kind}")
def test_each_case(built, case: Case):
    _, conn = built
    for name in case.good:
        assert _one(conn, "select count(*) from mhc.persons where username = %s", name) == 1, name
        assert _one(conn, "select count(*) from mhc.v_person_current_state where username = %s", name) == 1, name
    for name in case.rejected:
        source = "statbate" if case.input == "statbate" else case.input
        reasons = _one(conn, f"""select coalesce(string_agg(reason, ' | '), '') from staging.stg_{source}__rejects
                                 where coalesce(username, '') = lower(btrim(%s)) or username = %s""", name, name)
        assert case.reason in reasons, (name, reasons)
    if case.quarantined:
        reasons = _one(conn, "select coalesce(string_agg(reason, ' | '), '') from raw.quarantine")
        assert case.quarantined in reasons, reasons
    if case.once:
        table, name = case.once
        live = " and origin = 'live'" if table != "follow_list_entries" else ""  # the legacy fixture has the owner too
        assert _one(conn, f"select count(*) from mhc.{table} where username = %s{live}", name) == 1
        assert _one(conn, "select count(*) from mhc.persons where lower(username) = %s", name) == 1


def test_a_legacy_namesake_on_another_platform_stays_out_of_the_chaturbate_person(built):
    _, conn = built
    assert _one(conn, "select count(*) from mhc.v_person_current_state where username = 'leg_nova' "
                      "and display_name = 'Nova on Stripchat'") == 0
    assert _one(conn, "select count(*) from raw.quarantine where raw_table = 'legacy_persons' "
                      "and reason like 'platform ''stripchat'' is not Chaturbate%%'") == 1


def test_a_statbate_404_is_a_not_found_answer_and_no_person(built):
    _, conn = built
    assert _one(conn, "select count(*) from mhc.statbate_model_info where username = 'zz_nobody_here' "
                      "and not is_found and error_message = 'Model not found'") == 1
    assert _one(conn, "select count(*) from mhc.persons where username = 'zz_nobody_here'") == 0


def test_rejected_rows_never_reach_the_history(built):
    _, conn = built
    assert _one(conn, "select count(*) from mhc.affiliate_api_snapshots "
                      "where username in ('aff_vip', 'aff_alien')") == 0
    assert _one(conn, "select count(*) from mhc.cbhours_live_stats "
                      "where username in ('cb_sleeping', 'cb_vip', '')") == 0
    assert _one(conn, "select count(*) from mhc.interactions where content is null or btrim(content) = ''") == 0
    assert _one(conn, "select count(*) from mhc.statbate_tips where member_username = ''") == 0
    # a blank FOLLOW content is not bad: it gets the label the live feed gives it
    assert _one(conn, "select count(*) from mhc.interactions where username = 'leg_good' and type = 'FOLLOW' "
                      "and content = 'Followed'") == 1


def test_the_dbt_unit_tests_pass(built, pg_url, tmp_path):
    """dbt's unit tests check the SQL of the merge rules, staging and history models on given rows. They
    run here, in `make test` and CI, not in every production build (DbtBuildConfig.unit_tests)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from mhc_pipeline import settings

    db.export_libpq_env(pg_url)
    project = str(settings.DBT_PROJECT_DIR)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "test", "--resource-type", "unit_test", "--project-dir", project,
         "--profiles-dir", project, "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert out.returncode == 0, out.stdout[-4000:]
    assert "PASS=" in out.stdout and "ERROR=0" in out.stdout.replace(" ", "")
