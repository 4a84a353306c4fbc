"""`mhc build --as-of T`: the merged state as it was at a past time T, right whatever landed later, built
into its own schema; the live product is never put back in time (issue 13 item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import pytest

from tests.conftest import reset_database

EARLY = "2026-11-20T19:59:00+00:00"
LATE = "2026-11-20T20:30:00+00:00"
AS_OF = "2026-11-20T20:00:00Z"
SCHEMA = "as_of_20261120t200000z"


def _mhc(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mhc_pipeline.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def _row(conn, sql: str, *params) -> dict:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    conn.commit()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture(scope="module")
def built(pg_url, sim, tmp_path_factory):
    """One room crawled at 19:59 and again at 20:30 (new name, new subject, another show), the live build,
    then `mhc build --as-of 20:00`."""
    from mhc_pipeline import db

    folder = tmp_path_factory.mktemp("as_of")
    env = {**os.environ, "MHC_DATABASE_URL": pg_url}
    room = dict(sim.world.online_rooms(datetime(2026, 11, 20, 20, 0, tzinfo=UTC))[0])
    room.update(username="asof_room", gender="f")
    early = {**room, "display_name": "Early name", "room_subject": "Early subject", "current_show": "public",
             "num_users": 11}
    late = {**room, "display_name": "Late name", "room_subject": "Late subject", "current_show": "private",
            "num_users": 99}
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        reset_database(conn)
        for name, page, at in (("early.json", early, EARLY), ("late.json", late, LATE)):
            path = folder / name
            path.write_text(json.dumps({"results": [page], "count": 1}))
            landed = _mhc("land", "affiliate", str(path), "--fetched-at", at, env=env)
            assert landed.returncode == 0, landed.stderr
        live = _mhc("build", env=env)
        assert live.returncode == 0, live.stdout + live.stderr
        past = _mhc("build", "--as-of", AS_OF, env=env)
        yield conn, past


def test_the_state_as_of_a_past_time_is_what_was_true_then(built):
    conn, past = built
    assert past.returncode == 0, past.stdout + past.stderr
    assert f"select * from {SCHEMA}.v_person_current_state" in past.stdout
    state = _row(conn, f"select * from {SCHEMA}.v_person_current_state where username = 'asof_room'")
    # the 19:59 crawl, one minute old at 20:00: online, its values (the 20:30 crawl did not exist yet)
    assert state["display_name"] == "Early name" and state["display_name_observed_at"].isoformat() == EARLY
    assert state["is_online"] is True and state["current_show"] == "public"
    assert state["room_subject"] == "Early subject" and state["viewers"] == 11
    assert state["state_as_of"] == datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    profile = _row(conn, f"select * from {SCHEMA}.profiles where username = 'asof_room'")
    assert profile["display_name"] == "Early name"


def test_an_as_of_build_leaves_the_live_product_alone(built):
    conn, _ = built
    live = _row(conn, "select * from mhc.v_person_current_state where username = 'asof_room'")
    assert live["display_name"] == "Late name" and live["display_name_observed_at"].isoformat() == LATE
    assert live["state_as_of"] > datetime(2026, 12, 1, tzinfo=UTC)  # built as of now
    assert _row(conn, "select count(*) as n from mhc.profiles where display_name = 'Early name'")["n"] == 0


def test_the_past_is_refused_in_place_and_the_operator_is_told_where_it_goes(built):
    """A pinned build time before the merged state already built (Dagster's launchpad, config as_of)
    would put the live product back in time: refused in one line naming `mhc build --as-of`."""
    from mhc_pipeline.dbt import mhc_dbt_models
    from mhc_pipeline.definitions import defs

    conn, _ = built
    result = dg.materialize([mhc_dbt_models], resources=defs.resources, raise_on_error=False, selection=[
        dg.AssetKey(["person_current_state"])], run_config={"ops": {"mhc_dbt_models": {"config": {"as_of": AS_OF}}}})
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = failure.event_specific_data.error.message
    assert "is before the merged state already built" in text and f"mhc build --as-of {AS_OF}" in text, text
    assert _row(conn, "select display_name from mhc.person_current_state where username = 'asof_room'")[
        "display_name"] == "Late name"


def test_a_bad_as_of_or_schema_is_one_line(pg_url):
    env = {**os.environ, "MHC_DATABASE_URL": pg_url}
    for args, says in ((["--as-of", "yesterday"], "is not an ISO-8601 time"),
                       (["--as-of", AS_OF, "--into", "mhc"], "cannot hold an as-of state")):
        out = _mhc("build", *args, env=env)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and says in out.stderr, out.stderr
