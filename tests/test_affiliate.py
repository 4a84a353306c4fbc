"""The Affiliate source end to end into raw: paging, duplicates, bad pages, bad rows, replay, credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from mhc_pipeline import load, settings
from mhc_pipeline.defs.affiliate import client as affiliate
from mhc_pipeline.http import RedactingFilter
from tests.conftest import count, reset_raw

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
PATH = "/api/public/affiliates/onlinerooms/"


@pytest.fixture()
def res(fresh_sim):
    return affiliate.AffiliateResource(url=fresh_sim.url + PATH, wm="SIMWM", client_ip="request_ip", page_size=7,
                                       max_per_minute=0, timeout=5, retries=3)


@pytest.fixture()
def clean(conn):
    load.ensure_raw_table(conn, affiliate.TABLE)
    conn.commit()
    reset_raw(conn, affiliate.TABLE)
    return conn


def _landed_usernames(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(f"select payload->>'username' from raw.{affiliate.TABLE} order by row_no")
        return [r[0] for r in cur.fetchall()]


def test_a_crawl_lands_every_online_room_once(res, clean, fresh_sim):
    truth = {r["username"] for r in fresh_sim.world.online_rooms(T)}
    assert len(truth) > 7  # several pages of 7
    fresh_sim.inject(PATH, "duplicates", count=10, n=3)  # every page repeats rooms of the page before
    batch = affiliate.crawl(res, T, conn=clean)
    landed = load.land(clean, batch)
    names = _landed_usernames(clean)
    assert len(names) == len(set(names)), "a username landed twice in one crawl"
    assert batch.meta["duplicates"] >= 3
    assert batch.meta["pages"] >= len(truth) // 7
    # with the clock frozen the list does not move, so the crawl is complete
    assert set(names) == truth
    assert landed.rows == len(truth) and landed.quarantined == 0


def test_an_html_page_fails_the_crawl_lands_nothing_and_is_quarantined(res, clean, fresh_sim):
    fresh_sim.inject(PATH, "slow", delay=0)  # page 0 answers normally ...
    # ... then pages 1 and 2 (fetched side by side, in either order) are Cloudflare challenges: the
    # crawl reads its pages in order, so page 1 is the one that fails it
    fresh_sim.inject(PATH, "html", count=2)
    with pytest.raises(affiliate.CrawlFailed) as info:
        affiliate.crawl(res, T, conn=clean)
    assert "HTML page" in str(info.value) and "raw.quarantine" in str(info.value)
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE}") == 0  # no partial snapshot
    with clean.cursor() as cur:
        cur.execute("select item, reason, body from raw.quarantine")
        item, reason, body = cur.fetchone()
    assert item == "page 1" and "Just a moment" in body and "HTML" in reason


@pytest.mark.parametrize("fault, params, cause", [
    ("html", {"status": 200}, "HTML page"),
    ("html", {"status": 403}, "403"),
    ("malformed", {}, "malformed JSON"),
    ("status", {"status": 200, "body": '{"results": [{"username": "a"},'}, "JSON"),
], ids=["challenge-200", "challenge-403", "truncated-body", "malformed-json"])
def test_a_bad_page_in_the_streamed_landing_is_quarantined_and_the_crawl_can_run_again(
        res, clean, fresh_sim, fault, params, cause):
    """The production path (asset -> land_crawl -> COPY): a page that fails while COPY streams the crawl
    comes out as the crawl's own failure naming the page, is kept in raw.quarantine, lands nothing and
    does not claim the batch, so the same crawl lands once the source answers again."""
    fresh_sim.inject(PATH, "slow", delay=0)  # page 0 answers, so COPY has started when the bad page comes
    fresh_sim.inject(PATH, fault, count=2, **params)  # pages 1 and 2 (fetched side by side) are bad
    with pytest.raises(affiliate.CrawlFailed) as info:
        affiliate.land_crawl(clean, res, T)
    message = str(info.value)
    assert "page 1" in message and cause in message and "raw.quarantine" in message, message
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE}") == 0
    assert count(clean, "select count(*) from raw.batches") == 0
    with clean.cursor() as cur:
        cur.execute("select item, reason from raw.quarantine")
        assert cur.fetchall() == [("page 1", info.value.reason)]
    fresh_sim.clear_faults()
    _, landed = affiliate.land_crawl(clean, res, T)
    assert not landed.already_landed
    assert landed.rows == len({r["username"] for r in fresh_sim.world.online_rooms(T)})


def test_two_live_crawls_in_the_same_second_are_two_batches(clean, fresh_sim):
    """A live fetch time is kept to the microsecond: it is part of the batch's identity."""
    from mhc_pipeline.utc import parse_time

    res = affiliate.AffiliateResource(url=fresh_sim.url + PATH, wm="SIMWM", client_ip="request_ip", page_size=500,
                                      max_per_minute=0, timeout=5, retries=1)
    landed = [affiliate.land_crawl(clean, res, parse_time(None))[1] for _ in range(3)]
    assert [x.already_landed for x in landed] == [False, False, False]
    assert len({x.batch_id for x in landed}) == 3
    assert count(clean, "select count(*) from raw.batches") == 3


def test_malformed_json_fails_the_crawl_with_a_clear_message(res, clean, fresh_sim):
    fresh_sim.inject(PATH, "malformed")
    with pytest.raises(affiliate.CrawlFailed, match="malformed JSON"):
        affiliate.crawl(res, T, conn=clean)
    assert count(clean, "select count(*) from raw.quarantine") == 1
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE}") == 0


def test_bad_rows_are_quarantined_and_the_good_rows_of_the_crawl_land(res, clean, fresh_sim):
    truth = {r["username"] for r in fresh_sim.world.online_rooms(T)}
    fresh_sim.inject(PATH, "bad_row")
    batch = affiliate.crawl(res, T, conn=clean)
    landed = load.land(clean, batch)
    assert landed.quarantined == 2
    with clean.cursor() as cur:
        cur.execute("select reason, payload from raw.quarantine order by item")
        reasons = [r[0] for r in cur.fetchall()]
    assert any("missing field 'username'" in r for r in reasons)
    assert any("field 'num_users' has type str" in r for r in reasons)
    names = set(_landed_usernames(clean))
    assert names <= truth and len(names) >= len(truth) - 2
    assert landed.rows == len(names)


def test_the_crawl_never_leaks_client_ip_or_the_wm_campaign(fresh_sim, clean, caplog):
    res = affiliate.AffiliateResource(url=fresh_sim.url + PATH, wm="Qx7Tb", client_ip="203.0.113.77",
                                      page_size=500, max_per_minute=0, timeout=5, retries=1)
    fresh_sim.inject(PATH, "status", status=503)  # one retry: its warning names the request
    caplog.handler.addFilter(RedactingFilter())  # as `mhc` installs it on its log handlers
    with caplog.at_level("DEBUG"):
        batch = affiliate.crawl(res, T, conn=clean)
    load.land(clean, batch)
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE} where request like '%%203.0.113.77%%'") == 0
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE} where request like '%%client_ip=***%%'") > 0
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE} where request like '%%Qx7Tb%%'") == 0
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE} where request like '%%wm=***%%'") > 0
    assert "retry" in caplog.text.lower() or "503" in caplog.text, caplog.text[-2000:]
    assert "Qx7Tb" not in caplog.text and "203.0.113.77" not in caplog.text
    # a failed crawl's message, and what raw.quarantine keeps of the request
    fresh_sim.inject(PATH, "html")
    with pytest.raises(affiliate.CrawlFailed) as info:
        affiliate.crawl(res, T + timedelta(minutes=5), conn=clean)
    assert "Qx7Tb" not in str(info.value) and "Qx7Tb" not in info.value.request
    assert count(clean, "select count(*) from raw.quarantine where request like '%%Qx7Tb%%'") == 0


def test_replaying_a_saved_response_lands_what_a_live_fetch_lands(res, clean, fresh_sim, tmp_path, pg_url):
    rooms = fresh_sim.world.online_rooms(T)
    saved = {"results": rooms[:5] + [rooms[0]] + [{"num_users": 1}], "count": 7}
    path = tmp_path / "onlinerooms.json"
    path.write_text(json.dumps(saved))
    cmd = [sys.executable, "-m", "mhc_pipeline.cli", "land", "affiliate", str(path), "--fetched-at",
           "2026-11-20T17:55:00Z"]
    env = {**os.environ, "MHC_DATABASE_URL": pg_url}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "5 rows into raw.affiliate_onlinerooms, 1 quarantined, 1 duplicates dropped" in out.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert "already landed, nothing changed" in again.stdout
    assert count(clean, f"select count(*) from raw.{affiliate.TABLE}") == 5
    assert count(clean, f"select count(distinct fetched_at) from raw.{affiliate.TABLE}") == 1
    # the same rooms through the live path (the simulator's clock is frozen at T: the same answers) land
    # the same payloads, row for row
    live = affiliate.crawl(res, T - timedelta(minutes=5), conn=clean)
    live_by_name = {r["username"]: r for r in live.records}
    with clean.cursor() as cur:
        cur.execute(f"select payload from raw.{affiliate.TABLE} order by row_no")
        replayed = [payload for (payload,) in cur.fetchall()]
    assert [p["username"] for p in replayed] == [r["username"] for r in rooms[:5]]
    for payload in replayed:
        assert payload == live_by_name[payload["username"]], payload["username"]


def test_a_replay_that_differs_from_the_held_batch_says_so_and_replaces_it_only_when_asked(clean, fresh_sim,
                                                                                           tmp_path, pg_url):
    """The batch identity is (source, table, fetched_at): a bad replay must not block the right one. A
    different file at the same time is refused in one line that offers --replace; --replace swaps the
    batch (rows, quarantined items, ledger) in one transaction; a batch that landed no row (everything
    quarantined) claimed nothing, and the corrected file takes its place without --replace."""
    rooms = fresh_sim.world.online_rooms(T)
    env = {**os.environ, "MHC_DATABASE_URL": pg_url}

    def land(name: str, page: dict, at: str, *flags: str):
        path = tmp_path / name
        path.write_text(json.dumps(page))
        return subprocess.run([sys.executable, "-m", "mhc_pipeline.cli", "land", "affiliate", str(path),
                               "--fetched-at", at, *flags], capture_output=True, text=True, env=env, timeout=120)

    def held(at: str) -> tuple[int, int, int]:
        return (count(clean, f"select count(*) from raw.{affiliate.TABLE} where fetched_at = %s", at),
                count(clean, "select count(*) from raw.quarantine where fetched_at = %s", at),
                count(clean, "select count(*) from raw.batches where fetched_at = %s", at))

    at = "2026-11-20T17:50:00+00:00"
    bad = {"results": rooms[:3] + [{"num_users": 1}], "count": 4}  # one room without a username
    good = {"results": rooms[:4], "count": 4}
    assert land("bad.json", bad, at).returncode == 0 and held(at) == (3, 1, 1)
    assert "already landed, nothing changed" in land("bad.json", bad, at).stdout  # the same file: a no-op
    refused = land("good.json", good, at)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "a different batch of 3 rows is already landed" in lines[0], refused.stderr
    assert lines[0].endswith("Land it with --replace to replace the held batch") and held(at) == (3, 1, 1)
    replaced = land("good.json", good, at, "--replace")
    assert replaced.returncode == 0 and "replaced the batch held for this time; landed: 4 rows" in replaced.stdout
    assert held(at) == (4, 0, 1)
    with clean.cursor() as cur:
        cur.execute(f"select payload ->> 'username' from raw.{affiliate.TABLE} where fetched_at = %s order by row_no",
                    (at,))
        assert [r[0] for r in cur.fetchall()] == [r["username"] for r in rooms[:4]]
    clean.commit()

    at = "2026-11-20T17:45:00+00:00"  # every room bad: nothing landed, nothing claimed
    assert land("all-bad.json", {"results": [{"num_users": 1}, {"num_users": 2}], "count": 2}, at).returncode == 0
    assert held(at) == (0, 2, 1)
    fixed = land("good.json", good, at)
    assert fixed.returncode == 0 and "landed: 4 rows" in fixed.stdout and held(at) == (4, 0, 1), fixed.stderr


def test_a_real_source_without_its_credential_fails_at_once_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MHC_")}
    env.update(MHC_AFFILIATE_URL="https://chaturbate.com/api/public/affiliates/onlinerooms/",
               MHC_DATA_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "mhc_pipeline.cli", "demo"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 2
    assert "MHC_AFFILIATE_WM is not set" in out.stderr
    assert not (tmp_path / "pgdata").exists(), "it should fail before starting anything"


def test_env_example_lists_every_setting():
    text = (settings.PROJECT_ROOT / ".env.example").read_text()
    assert text.strip() == settings.env_example().strip()
    for s in settings.SETTINGS:
        assert s.name in text


def test_the_readme_documents_every_setting():
    text = (settings.PROJECT_ROOT / "README.md").read_text()
    missing = [s.name for s in settings.SETTINGS if f"`{s.name}`" not in text]
    assert not missing
