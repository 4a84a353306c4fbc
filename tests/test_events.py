"""The Events API, exactly once: drain, restart after SIGKILL, replays, the 400 variant, 401, 429/5xx,
unknown methods, and no token anywhere (logs, errors, metadata, tables)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from mhc_pipeline import load
from mhc_pipeline.defs.events import client as events
from tests.conftest import count

TOKEN = "sim-events-token-0123456789"


@pytest.fixture(scope="module")
def sim_ev(pg_url):
    """A simulator of its own: these tests run its clock fast so that events flow."""
    from mhc_pipeline.simulator import Simulator

    sim = Simulator(rooms=50, seed=11, port=0, events_token=TOKEN).start()
    yield sim
    sim.stop()


def _owner_online_at(sim) -> datetime:
    t = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    for _ in range(24 * 60):
        if sim.world.is_online(sim.world.owner, t) and sim.world.is_online(sim.world.owner, t + timedelta(hours=2)):
            return t + timedelta(minutes=5)
        t += timedelta(minutes=10)
    raise AssertionError("the owner never broadcasts for two hours")


def _res(sim, token: str = TOKEN) -> events.EventsResource:
    return events.EventsResource(url=sim.url + "/events/", username=sim.world.owner, token=token,
                                 max_per_minute=6000, retries=4)


@pytest.fixture()
def clean(conn, sim_ev):
    load.ensure_raw_table(conn, "events")
    with conn.cursor() as cur:
        cur.execute("truncate raw.events; delete from raw.batches where raw_table = 'events';"
                    " delete from raw.quarantine where raw_table = 'events';"
                    " create table if not exists raw.cursors (name text primary key, value text not null,"
                    " updated_at timestamptz not null default now()); truncate raw.cursors")
    conn.commit()
    sim_ev.clear_faults()
    yield conn
    sim_ev.clear_faults()


def _set_cursor(conn, res, event_id: str) -> None:
    with conn.cursor() as cur:
        load.set_cursor(res.feed(), event_id)(cur)
    conn.commit()


def _landed_ids(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("select payload->>'id' from raw.events")
        return [r[0] for r in cur.fetchall()]


def _truth_after(sim, after_id: str, until: datetime) -> list[str]:
    key = events.id_key(after_id)
    return [e["id"] for e in sim.events_until(until) if events.id_key(e["id"]) > key]


def test_a_drain_lands_every_event_once_and_moves_the_cursor_with_them(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    sim_ev.set_time(t0)
    res = _res(sim_ev)
    first = sim_ev.events_until(t0 - timedelta(minutes=20))[-1]["id"]
    _set_cursor(clean, res, first)
    result = events.drain(clean, pg_url, res, poll_timeout=0)
    truth = _truth_after(sim_ev, first, t0)
    assert len(truth) > 20
    ids = _landed_ids(clean)
    assert sorted(ids, key=events.id_key) == truth and len(ids) == len(set(ids))
    assert result.events_landed == len(truth) and result.last_event_id == truth[-1]
    assert load.get_cursor(clean, res.feed()) == truth[-1]
    # a second drain: nothing new
    again = events.drain(clean, pg_url, res, poll_timeout=0)
    assert again.events_landed == 0 and len(_landed_ids(clean)) == len(truth)


def test_a_replayed_answer_adds_nothing(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    sim_ev.set_time(t0)
    res = _res(sim_ev)
    first = sim_ev.events_until(t0 - timedelta(minutes=10))[-1]["id"]
    _set_cursor(clean, res, first)
    events.drain(clean, pg_url, res, poll_timeout=0)
    landed = len(_landed_ids(clean))
    # as if an old nextUrl were requested again: the cursor goes back, the server replays
    _set_cursor(clean, res, first)
    replay = events.drain(clean, pg_url, res, poll_timeout=0)
    assert replay.events_landed == 0 and replay.replayed_dropped >= landed
    assert len(_landed_ids(clean)) == landed
    assert count(clean, "select count(*) - count(distinct payload->>'id') from raw.events") == 0


def test_400_waited_too_long_is_an_empty_batch_and_429_503_back_off(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    sim_ev.set_time(t0)
    res = _res(sim_ev)
    first = sim_ev.events_until(t0 - timedelta(minutes=3))[-1]["id"]
    _set_cursor(clean, res, first)
    sim_ev.inject("/events/", "status", status=429, retry_after=1)
    sim_ev.inject("/events/", "status", status=503)
    result = events.drain(clean, pg_url, res, poll_timeout=0)
    assert result.events_landed == len(_truth_after(sim_ev, first, t0)) > 0
    sim_ev.events_waited_too_long = True
    try:
        empty = events.drain(clean, pg_url, res, poll_timeout=0)
    finally:
        sim_ev.events_waited_too_long = False
    assert empty.answers >= 1 and empty.events_landed == 0 and not empty.skipped


def test_401_stops_with_a_clear_message_without_the_token(clean, sim_ev, pg_url, caplog):
    bad = "WRONG-token-1234567890abcd"
    with pytest.raises(events.EventsAuthError) as info:
        events.drain(clean, pg_url, _res(sim_ev, token=bad), poll_timeout=0)
    text = str(info.value)
    assert "invalid" in text and "revoked" in text and "MHC_EVENTS_TOKEN" in text
    assert bad not in text and TOKEN not in text and bad not in caplog.text


def test_unknown_methods_are_landed_and_counted(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    sim_ev.set_time(t0)
    res = _res(sim_ev)
    last = sim_ev.events_until(t0)[-1]["id"]
    _set_cursor(clean, res, last)
    sim_ev.emit_event("someNewMethod", {"broadcaster": sim_ev.world.owner, "whatever": 1})
    result = events.drain(clean, pg_url, res, poll_timeout=0)
    assert result.unknown_methods == {"someNewMethod": 1}
    assert count(clean, "select count(*) from raw.events where payload->>'method' = 'someNewMethod'") == 1


def test_the_worker_and_a_run_never_read_the_same_feed_at_once(clean, sim_ev, pg_url):
    res = _res(sim_ev)
    holder = events._FeedLock(pg_url, res.feed())
    assert holder.try_acquire()
    try:
        assert events.drain(clean, pg_url, res, poll_timeout=0).skipped
    finally:
        holder.close()
    assert not events.drain(clean, pg_url, res, poll_timeout=0).skipped


def _worker(sim, pg_url, timeout: int = 1) -> subprocess.Popen:
    env = {**os.environ, "MHC_DATABASE_URL": pg_url, "MHC_EVENTS_URL": sim.url + "/events/",
           "MHC_EVENTS_TOKEN": TOKEN, "MHC_OWNER": sim.world.owner}
    return subprocess.Popen([sys.executable, "-m", "mhc_pipeline.cli", "-v", "events-worker", "--timeout",
                             str(timeout)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_worker_stops_within_2_seconds_of_sigterm_in_a_long_poll(clean, sim_ev, pg_url):
    """A 30-second long poll on a quiet feed does not hold a SIGTERM for 30 s; the cursor stays where the
    last landed answer put it."""
    t0 = _owner_online_at(sim_ev)
    res = _res(sim_ev)
    last = sim_ev.events_until(t0)[-1]["id"]
    _set_cursor(clean, res, last)
    sim_ev.set_time(t0)  # frozen: no new event, every poll waits its full timeout
    seen = len(sim_ev.requests)
    worker = _worker(sim_ev, pg_url, timeout=30)
    try:
        _wait(lambda: any(r.path.startswith("/events/") for r in sim_ev.requests[seen:]), 60)
        time.sleep(2)  # inside the long poll
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, _ = worker.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if worker.poll() is None:
            worker.kill()
        sim_ev.set_time(None)
    assert worker.returncode == 0, out[-2000:]
    assert took < 2.0, f"stopped {took:.1f} s after SIGTERM"
    assert "events worker stopped" in out
    assert load.get_cursor(clean, res.feed()) == last


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_worker_killed_mid_drain_then_restarted_lands_every_event_exactly_once(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    res = _res(sim_ev)
    first = sim_ev.events_until(t0)[-1]["id"]
    _set_cursor(clean, res, first)
    sim_ev.set_time(t0, frozen=False)
    sim_ev.time_scale = 60.0  # a simulated minute per second: events keep coming
    worker = _worker(sim_ev, pg_url)
    try:
        _wait(lambda: count(clean, "select count(*) from raw.events") >= 40)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_at = count(clean, "select count(*) from raw.events")
        time.sleep(1.5)  # events go on while no one listens
        worker = _worker(sim_ev, pg_url)
        _wait(lambda: count(clean, "select count(*) from raw.events") > killed_at + 20)
        end = sim_ev.now()
        sim_ev.set_time(end)  # freeze: the stream stops growing
        truth = _truth_after(sim_ev, first, end)
        _wait(lambda: load.get_cursor(clean, res.feed()) == truth[-1])
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
        sim_ev.time_scale = 1.0
        sim_ev.set_time(None)
    ids = _landed_ids(clean)
    assert len(ids) == len(set(ids)), "an event landed twice"
    assert sorted(ids, key=events.id_key) == truth, "events were lost"
    assert TOKEN not in out


def test_no_token_in_any_table_or_metadata(clean, sim_ev, pg_url):
    t0 = _owner_online_at(sim_ev)
    sim_ev.set_time(t0)
    res = _res(sim_ev)
    _set_cursor(clean, res, sim_ev.events_until(t0 - timedelta(minutes=5))[-1]["id"])
    sim_ev.inject("/events/", "html")  # the quarantined body and request must be clean too
    with pytest.raises(Exception) as info:
        events.drain(clean, pg_url, res, poll_timeout=0)
    assert TOKEN not in str(info.value)
    result = events.drain(clean, pg_url, res, poll_timeout=0)
    assert TOKEN not in repr(result.as_metadata())
    with clean.cursor() as cur:
        cur.execute("""select table_schema, table_name, column_name from information_schema.columns
                       where table_schema in ('raw', 'mhc', 'staging', 'intermediate')
                         and data_type in ('text', 'jsonb', 'json', 'character varying')""")
        columns = cur.fetchall()
        hits = []
        for schema, table, column in columns:
            cur.execute(f'select count(*) from {schema}."{table}" where "{column}"::text like %s', (f"%{TOKEN}%",))
            if cur.fetchone()[0]:
                hits.append(f"{schema}.{table}.{column}")
    clean.commit()
    assert not hits
    assert count(clean, "select count(*) from raw.events where request like '%%/events/%%/***/%%'") > 0
