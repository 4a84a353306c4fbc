"""Migration from the MHC Control Panel (`mhc import-legacy`, the `legacy_import` job): a fixture legacy
database (the schema of original-system.md §2, both generations of table names, every quirk) in the
session's embedded PostgreSQL, imported read-only through the one loader, then one dbt build:
row counts per history table, the doubled interactions collapsed (real repeats kept), times converted
from America/New_York (CBHours activity times from UTC), a second import adding nothing and a third
exactly the new rows, the rows updated in place and the rows committed late below the marks, a SIGKILL
mid-import followed by a restart ending like an uninterrupted run (and a run with its marks lost
adding nothing), the merged state of imported persons, the password never stored or shown, and the
legacy database unchanged."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import dagster as dg
import psycopg2
import pytest

from mhc_pipeline import db, load
from mhc_pipeline.defs.legacy import client as legacy
from mhc_pipeline.load import Batch
from mhc_pipeline.settings import PROJECT_ROOT
from tests import legacy_fixture as lf
from tests.conftest import count, reset_database

PASSWORD = "legacy-s3cret-pw"  # the embedded server trusts local connections: any password works
AS_OF = lf.SUMMER + timedelta(days=30)


def _with_password(url: str) -> str:
    return url.replace("postgres:@", f"postgres:{PASSWORD}@", 1)


def _raw_counts(conn, schema: str = "raw") -> dict[str, int]:
    return {t: count(conn, f"select count(*) from {schema}.{t}") for t in legacy.RAW_TABLES}


def _payloads(conn, schema: str) -> dict[str, list[str]]:
    out = {}
    with conn.cursor() as cur:
        for t in legacy.RAW_TABLES:
            cur.execute(f"select payload::text from {schema}.{t} order by 1")
            out[t] = [r[0] for r in cur.fetchall()]
    conn.commit()
    return out


@pytest.fixture(scope="module")
def story(pg_url):
    """Create the legacy database, import it three times (the second through the Dagster job, the third
    after new legacy rows), then build dbt once."""
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    admin = db._with_database(pg_url, "postgres")
    legacy_url = lf.create(admin, "legacy_fixture", "new")
    expected = lf.fill(legacy_url, "new")
    before = lf.checksums(legacy_url)
    secret_url = _with_password(legacy_url)
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        conn.autocommit = False
        # 1: the command line, with a progress bar per table and the summary
        started = time.monotonic()
        cli = subprocess.run([sys.executable, "-m", "mhc_pipeline.cli", "import-legacy", "--from", secret_url,
                              "--chunk-rows", "25"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                             env={**os.environ, "MHC_DATABASE_URL": pg_url}, timeout=300)
        first_seconds = time.monotonic() - started
        assert cli.returncode == 0, cli.stderr[-2000:]
        after_first = _raw_counts(conn)
        # 2: the Dagster job (its URL from MHC_LEGACY_DATABASE_URL through EnvVar): nothing new
        saved = os.environ.get("MHC_LEGACY_DATABASE_URL")
        os.environ["MHC_LEGACY_DATABASE_URL"] = secret_url
        try:
            job = defs.resolve_job_def("legacy_import")
            second = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
        finally:
            os.environ["MHC_LEGACY_DATABASE_URL"] = saved or ""
        assert second.success
        after_second = _raw_counts(conn)
        unchanged_after_two = lf.checksums(legacy_url)
        # 3: the legacy system goes on: it updates rows in place, commits two rows late (below the
        # marks the second import left), then writes new rows
        changed = lf.change_rows(legacy_url, "new")
        added = lf.add_rows(legacy_url, "new")
        before_third = lf.checksums(legacy_url)
        third = legacy.import_legacy(conn, secret_url, chunk_rows=25)
        after_third = _raw_counts(conn)
        unchanged_after_three = lf.checksums(legacy_url)
        # live collection beside the import: the Events API delivers one event the legacy system also
        # logged (same id) and one new event
        known = expected.real_repeats[0]
        live = [{"method": "chatMessage", "id": event_id, "object": {
                    "broadcaster": lf.OWNER, "user": {"username": "viewer_00"}, "message": {"message": "hi"}}}
                for event_id in (known, f"{int(AS_OF.timestamp() * 1000)}-0")]
        load.land(conn, Batch(source="events", table="events", fetched_at=AS_OF - timedelta(minutes=1),
                              records=live, scope="test"))
    result = dg.materialize([mhc_dbt_models], resources=defs.resources, raise_on_error=False, run_config={
        "ops": {"mhc_dbt_models": {"config": {"as_of": AS_OF.isoformat()}}}})
    failures = [e.message for e in result.all_events if e.is_failure][:3]
    assert result.success, failures
    errors = [c.check_name for c in result.get_asset_check_evaluations()
              if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not errors
    yield {"legacy_url": legacy_url, "expected": expected, "cli": cli, "second": second,
           "checksums": (before, unchanged_after_two, before_third, unchanged_after_three),
           "third": third, "added": added, "changed": changed, "counts": (after_first, after_second, after_third),
           "first_seconds": first_seconds}


def _one(conn, sql: str, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        row = cur.fetchone()
    conn.commit()
    return row


# ---------------------------------------------------------------------------------------------------
def test_every_table_lands_with_its_source_and_bad_rows_are_quarantined(story, conn):
    ex, (first, _, _) = story["expected"], story["counts"]
    q = ex.quarantined
    assert first == {
        "legacy_persons": len(ex.persons),
        "legacy_affiliate": ex.affiliate,
        "legacy_cbhours_live_stats": ex.live_stats,
        "legacy_cbhours_activity": ex.activity,
        "legacy_statbate": ex.statbate_model + ex.statbate_member + ex.cb_stats,
        "legacy_event_logs": ex.event_logs - q["legacy_event_logs"],
        "legacy_interactions": ex.interactions_rows - q["legacy_interactions"],
        "legacy_profiles": ex.profiles,
        "legacy_follow_history": ex.follow_history,
        "legacy_follower_count_history": ex.follower_counts,
    }
    with conn.cursor() as cur:
        cur.execute("select raw_table, reason from raw.quarantine where raw_table like 'legacy_%' order by 1")
        reasons = cur.fetchall()
        cur.execute("select distinct source from raw.legacy_affiliate union all select distinct source "
                    "from raw.legacy_statbate")
        sources = {r[0] for r in cur.fetchall()}
    conn.commit()
    assert {t for t, _ in reasons} == set(q) and len(reasons) == sum(q.values())
    by_table = dict(reasons)
    assert "is not in the legacy persons table" in by_table["legacy_affiliate"]
    assert "is not in the legacy persons table" in by_table["legacy_interactions"]
    assert "raw_payload is a JSON string, expected a JSON object" in by_table["legacy_statbate"]
    assert "raw_event is a JSON array" in by_table["legacy_event_logs"]
    assert sources == {"legacy_affiliate_api_polling", "legacy_statbate_api_polling"}
    # the whole legacy row is the payload, with its original (zone-less) time as written
    payload = _one(conn, "select payload from raw.legacy_affiliate where payload->'row'->>'id' = '1'")[0]
    assert payload["row"]["observed_at"] == ex.first_observed_naive.isoformat()
    assert payload["time_zone"] == "America/New_York" and payload["username"] == "model_00"
    # the summary table and the progress bars
    out = story["cli"].stdout + story["cli"].stderr
    assert "legacy affiliate_api_polling" in out and "100%" in out
    line = next(x for x in story["cli"].stdout.splitlines() if x.startswith("interactions "))
    assert line.split()[2:7] == [str(ex.interactions_rows), str(ex.interactions_rows - 1), "1", "0",
                                 str(ex.interactions_rows - 1 - ex.interactions_distinct)]


def test_history_tables_hold_the_legacy_rows_marked_as_legacy(story, conn):
    ex, added, changed = story["expected"], story["added"], story["changed"]
    # (the late Affiliate row and the updated StatBate answer are new observations too)
    new_aff, new_live = added["legacy_affiliate"] + changed["legacy_affiliate"], added["legacy_cbhours_live_stats"]
    assert _one(conn, "select count(*) from mhc.affiliate_api_snapshots where origin = 'legacy'")[0] == \
        ex.affiliate + new_aff
    assert _one(conn, "select count(*) from mhc.cbhours_live_stats where origin = 'legacy'")[0] == \
        ex.live_stats + new_live
    assert _one(conn, "select count(*) from mhc.cbhours_activity where origin = 'legacy'")[0] == ex.activity
    assert _one(conn, "select count(*) from mhc.statbate_model_info where origin = 'legacy'")[0] == \
        ex.statbate_model + changed["legacy_statbate"]
    assert _one(conn, "select count(*) from mhc.statbate_member_info where origin = 'legacy'")[0] == ex.statbate_member
    assert _one(conn, "select gender, rank from mhc.statbate_model_info where username = 'model_01'") == ("f", 301)
    # the owner's Stats API polling rows (cb_stats) join the Stats API history, at their instant in UTC
    stats = conn.cursor()
    stats.execute("""select captured_at, token_balance, num_followers, time_online_minutes, is_broadcasting
                       from mhc.snapshots where origin = 'legacy' order by captured_at""")
    assert stats.fetchall() == [(lf.WINTER + timedelta(minutes=5 * i), 5000 + i, 7000 + i, None, False)
                                for i in range(ex.cb_stats)]
    # one row per legacy broadcast, never a made-up series; each one broadcast session
    per_broadcast = _one(conn, """select count(*), count(distinct (person_id, session_start))
                                    from mhc.affiliate_api_snapshots where origin = 'legacy'""")
    assert per_broadcast == (ex.affiliate + new_aff, ex.affiliate + new_aff)
    sessions = _one(conn, "select count(*) from mhc.broadcast_sessions where source = 'affiliate'")[0] + \
        _one(conn, "select count(*) from mhc.v_broadcast_sessions_open where source = 'affiliate'")[0]
    assert sessions == ex.affiliate + new_aff
    # persons: every legacy person (one new), mapped through the lower-cased username
    names = set(ex.persons) | {"late_model"}
    assert _one(conn, "select count(*) from mhc.persons where username = any(%s)", sorted(names))[0] == len(names)
    assert _one(conn, "select count(*) from mhc.persons where username = 'Model_14'")[0] == 0
    # the follow history and the follow state
    assert _one(conn, "select count(*) from mhc.follow_history where origin = 'legacy' and direction = 'following'"
                )[0] == ex.follow_history
    # a follow of the owner taken from a legacy interaction is a legacy record too
    from_legacy = """select count(*) from mhc.follow_history h join mhc.interactions i on i.id = h.evidence
                      where i.origin = 'legacy' and h.origin = %s"""
    assert _one(conn, from_legacy, "legacy")[0] > 0 and _one(conn, from_legacy, "live")[0] == 0
    assert _one(conn, "select is_active from mhc.follows where username = 'model_06' and direction = 'following'"
                )[0] is False
    assert _one(conn, "select count(*) from mhc.follows where direction = 'following' and is_active")[0] == 5


def test_cbhours_activity_nulls_stay_unknown_and_codes_are_normalised(story, conn):
    ex = story["expected"]
    assert _one(conn, "select count(*) filter (where followers is null), count(*) filter (where followers = 0) "
                      "from mhc.cbhours_activity where origin = 'legacy'") == (ex.activity_nulls, 0)
    genders = {r for (r,) in _fetch(conn, "select distinct gender from mhc.cbhours_live_stats "
                                          "where gender is not null")}
    assert genders == {"f", "m", "t", "c"}
    shows = {r for (r,) in _fetch(conn, "select distinct show_type from mhc.cbhours_activity")}
    assert shows == {"public"}
    assert {r for (r,) in _fetch(conn, "select distinct source from mhc.interactions")} == {"events_api"}


def _fetch(conn, sql: str, *params) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        rows = cur.fetchall()
    conn.commit()
    return rows


def test_doubled_interactions_collapse_and_real_repeats_stay(story, conn):
    ex = story["expected"]
    total = _one(conn, "select count(*) from mhc.interactions where origin = 'legacy'")[0]
    assert total == ex.interactions_distinct + 2  # + the new legacy message (written twice) and the late one
    # the two listeners' copies of an event with an id: one row, keyed on the Chaturbate id
    assert _one(conn, "select count(*) from mhc.interactions where origin = 'legacy' and id like 'legacy:%'")[0] \
        == 15 + 2
    for event_id in ex.real_repeats:
        assert _one(conn, "select count(*) from mhc.interactions where id = %s", event_id)[0] == 1
    # an event both the legacy system and the live feed delivered is kept once (the first landing)
    assert _one(conn, "select origin from mhc.interactions where id = %s", ex.real_repeats[0])[0] == "legacy"
    assert _one(conn, "select count(*) from mhc.interactions where origin = 'live'")[0] == 1
    assert _one(conn, "select count(*) from mhc.interactions where content = 'hi' and origin = 'legacy'")[0] \
        == len(ex.real_repeats)
    # the event time comes from the event id
    row = _one(conn, "select occurred_at, event_ms from mhc.interactions where id = %s", ex.real_repeats[0])
    assert int(row[0].timestamp() * 1000) == row[1] == int(ex.real_repeats[0].split("-")[0])


def test_zone_less_times_are_converted_from_new_york(story, conn):
    ex = story["expected"]
    observed = _one(conn, "select min(observed_at) from mhc.affiliate_api_snapshots where username = 'model_00'")[0]
    assert observed == ex.first_observed_utc  # 13:00 EST written -> 18:00 UTC
    summer = _one(conn, "select min(checked_at) from mhc.cbhours_live_stats where username = 'model_00'")[0]
    assert summer == lf.SUMMER  # 12:00 EDT written -> 16:00 UTC
    # a timestamptz column keeps its instant: follow_history.created_at
    first_follow = _one(conn, "select changed_at from mhc.follow_history where username = 'model_00'")[0]
    assert first_follow == lf.WINTER - timedelta(days=30)
    assert observed.tzinfo is not None and observed.utcoffset() == timedelta(0)


def test_cbhours_activity_times_are_utc_as_cbhours_sent_them(story, conn):
    """The original asked CBHours for UTC (tzo=0) and stored the segment time as it came; the row's
    created_at is the legacy server's New York clock (issue 17 item 4a)."""
    first = _one(conn, "select min(timestamp), min(fetched_at) from mhc.cbhours_activity "
                       "where username = 'model_00' and origin = 'legacy'")
    assert first == (lf.SUMMER, lf.SUMMER + timedelta(hours=1))
    payload = _one(conn, "select payload from raw.legacy_cbhours_activity where payload->>'username' = 'model_00' "
                         "order by payload->'utc'->>'timestamp' limit 1")[0]
    assert payload["row"]["timestamp"] == "2026-07-01T16:00:00"
    assert payload["utc"]["timestamp"] == "2026-07-01T16:00:00+00:00"
    assert payload["time_zone"] == "America/New_York" and payload["column_zones"] == {"timestamp": "UTC"}


def test_rows_updated_in_place_are_landed_again_and_reach_the_history(story, conn):
    """StatBate moves captured_at and leaves created_at; the persons and profiles triggers move
    updated_at (issue 17 item 4c): the next import lands the new version of the row, and the history
    holds it as a new observation beside the old one."""
    versions = _one(conn, "select count(*), count(distinct payload->'row'->>'id') from raw.legacy_statbate "
                          "where payload->>'username' = 'model_02'")
    assert versions == (2, 1)
    answers = _fetch(conn, "select captured_at, rank from mhc.statbate_model_info where username = 'model_02' "
                           "order by captured_at")
    assert answers == [(lf.WINTER + timedelta(hours=2), 302), (lf.SUMMER + timedelta(days=20, hours=1), 290)]
    name = _one(conn, "select s.display_name, s.display_name_source from mhc.person_current_state s "
                      "join mhc.persons p on p.id = s.id where p.username = 'model_02'")
    assert name == (lf.RENAMED, "profiles")
    roles = _fetch(conn, "select payload->'row'->>'role' from raw.legacy_persons where payload->'row'->>'username' "
                         "= 'viewer_14' order by landed_at")
    assert roles == [("VIEWER",), ("MODEL",)]
    # the old version's viewer evidence and the new one's model evidence (StatBate's rid)
    assert _one(conn, "select role from mhc.persons where username = 'viewer_14'")[0] == "both"


def test_rows_committed_late_below_the_mark_are_not_lost(story, conn):
    """A row committed after an import with a time below the mark that import left (a writer whose
    transaction began earlier; issue 17 item 4d): the next import re-reads the overlap behind the mark."""
    assert _one(conn, "select count(*) from mhc.affiliate_api_snapshots where username = 'model_07' "
                      "and origin = 'legacy' and seconds_online = 600")[0] == 1
    assert _one(conn, "select count(*) from mhc.interactions where content = 'late commit' and origin = 'legacy'"
                )[0] == 1


def test_a_second_import_adds_nothing_and_a_third_exactly_the_new_rows(story, conn):
    first, second, third = story["counts"]
    assert second == first
    meta = {e.event_specific_data.materialization.asset_key.path[-1]: e.event_specific_data.materialization.metadata
            for e in story["second"].get_asset_materialization_events()}
    assert set(meta) == set(legacy.RAW_TABLES)
    # the second run re-reads the overlap behind each mark, and lands none of it: all held unchanged
    assert all(m["rows_landed"].value == 0 and m["rows_quarantined"].value == 0 for m in meta.values())
    assert all(m["rows_read"].value == m["rows_unchanged"].value for m in meta.values())
    assert sum(m["rows_unchanged"].value for m in meta.values()) > 0
    assert "duplicates_collapsed" in meta["legacy_interactions"] and "summary" in meta["legacy_interactions"]
    # the third: the new rows, the rows updated in place and the late ones, nothing else
    new = {t: story["added"].get(t, 0) + story["changed"].get(t, 0) for t in first}
    assert third == {t: first[t] + new[t] for t in first}
    assert {k: v.landed for k, v in story["third"].items() if v.landed} == \
        {t.removeprefix("legacy_"): n for t, n in new.items() if n}
    assert not any(v.quarantined for v in story["third"].values())


def test_merged_state_of_imported_persons_is_what_the_legacy_data_says(story, conn):
    rows = {r[0]: r[1:] for r in _fetch(conn, """
        select p.username, s.display_name, s.display_name_source, s.gender, s.gender_source, s.followers,
               s.followers_source, s.spoken_languages, s.is_online, p.role
          from mhc.person_current_state s join mhc.persons p on p.id = s.id
         where p.username in ('model_00', 'model_03', 'model_05', 'viewer_00', 'late_model')""")}
    # display name only the legacy profile had; gender from the CBHours word (ranked before profiles);
    # followers: the newest of Affiliate / CBHours (both old: the `latest` fallback)
    assert rows["model_00"][:6] == ("Model 0", "profiles", "f", "cbhours", 700, "affiliate")
    assert rows["model_00"][6:8] == (["English", "Spanish"], False)
    assert rows["model_03"][2] == "c" and rows["model_03"][8] == "both"  # legacy VIEWER, seen broadcasting
    assert rows["model_05"][8] == "model"  # legacy UNKNOWN, seen broadcasting
    assert rows["viewer_00"][8] == "viewer"
    assert rows["late_model"][2:6] == ("f", "cbhours", 700, "affiliate")
    profile = _one(conn, "select gender, gender_source, spoken_languages from mhc.profiles p join mhc.persons x "
                         "on x.id = p.person_id where x.username = 'model_01'")
    assert profile == ("m", "cbhours", ["English", "Spanish"])


def test_the_password_is_never_stored_or_shown(story, conn):
    texts = [story["cli"].stdout, story["cli"].stderr]
    for event in story["second"].all_events:
        texts.append(str(event))
    for sql in ("select * from raw.batches", "select * from raw.quarantine", "select * from raw.cursors",
                "select payload::text from raw.legacy_persons"):
        texts.append(str(_fetch(conn, sql)))
    assert not any(PASSWORD in t for t in texts)
    assert "***" in story["cli"].stdout  # the URL is shown redacted
    # a wrong URL fails with the password redacted
    bad = _with_password(story["legacy_url"]).replace("/legacy_fixture", "/no_such_db")
    with pytest.raises(legacy.LegacyError) as info:
        legacy.import_legacy(conn, bad)
    assert PASSWORD not in str(info.value) and "no_such_db" in str(info.value)


def test_the_legacy_database_is_unchanged_and_read_only(story):
    before, after_two, before_third, after_third = story["checksums"]
    assert len(before) == 11 and after_two == before  # every table, job_state included
    assert after_third == before_third != before  # (the test itself added rows in between)
    with legacy.connect_legacy(story["legacy_url"]) as legacy_conn, legacy_conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("delete from persons")


def test_both_generations_of_table_names_are_detected(pg_url, conn):
    admin = db._with_database(pg_url, "postgres")
    url = lf.create(admin, "legacy_fixture_old", "old")
    ex = lf.fill(url, "old")
    results = legacy.import_legacy(conn, url, schema="raw_oldgen")
    assert results["affiliate"].actual == "broadcast_sessions" and results["statbate"].actual == "snapshots"
    assert results["affiliate"].landed == ex.affiliate and results["statbate"].landed == \
        ex.statbate_model + ex.statbate_member + ex.cb_stats
    langs = _one(conn, "select payload->'row'->'spoken_languages' from raw_oldgen.legacy_profiles "
                       "where payload->'row'->>'display_name' = 'Model 0'")[0]
    assert langs == "English, Spanish"  # TEXT in this generation (staging splits both forms)


_KILL_SCRIPT = """
import sys, time
from mhc_pipeline import db
from mhc_pipeline.defs.legacy import client as legacy
def slow(table, read):
    print(table, read, flush=True)
    time.sleep(0.05)
with db.connection(sys.argv[1]) as conn:
    legacy.import_legacy(conn, sys.argv[2], schema=sys.argv[3], chunk_rows=5, on_chunk=slow)
"""


def test_a_sigkill_mid_import_then_a_restart_ends_like_an_uninterrupted_run(pg_url, conn):
    admin = db._with_database(pg_url, "postgres")
    url = lf.create(admin, "legacy_fixture_kill", "new")
    lf.fill(url, "new")
    legacy.import_legacy(conn, url, schema="raw_whole", chunk_rows=7)
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, pg_url, url, "raw_killed"], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:  # kill it in the middle of the affiliate table
        seen.append(line)
        if line.startswith("affiliate ") and int(line.split()[1]) >= 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = _raw_counts(conn, "raw_killed")
    assert 0 < partial["legacy_affiliate"] < 61 and partial["legacy_interactions"] == 0
    legacy.import_legacy(conn, url, schema="raw_killed", chunk_rows=5)
    assert _payloads(conn, "raw_killed") == _payloads(conn, "raw_whole")
    # marks lost (or written by an older version): every table is read again, and nothing held lands twice
    with conn.cursor() as cur:
        cur.execute("delete from raw_killed.cursors where name like 'legacy:%'")
    conn.commit()
    again = legacy.import_legacy(conn, url, schema="raw_killed", chunk_rows=5)
    assert not any(r.landed or r.quarantined for r in again.values())
    assert all(r.read == r.unchanged for r in again.values()) and again["affiliate"].read == 61
    assert _payloads(conn, "raw_killed") == _payloads(conn, "raw_whole")
