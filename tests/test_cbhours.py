"""CBHours: live cycles, activity backfills, Error Code:300 as a fact, 1 request/s across processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from mhc_pipeline import load
from mhc_pipeline.defs.cbhours import client as cbhours
from mhc_pipeline.http import HttpClient, RateLimiter
from tests.conftest import count, reset_raw

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


@pytest.fixture()
def clean(conn, fresh_sim):
    for table in (cbhours.LIVE_TABLE, cbhours.ACTIVITY_TABLE, "events"):
        load.ensure_raw_table(conn, table)
    conn.commit()
    reset_raw(conn, cbhours.LIVE_TABLE, cbhours.ACTIVITY_TABLE, "events")
    fresh_sim.cbhours_rate_limit = False
    yield conn
    fresh_sim.cbhours_rate_limit = True


def _res(sim, per_minute: int = 6000) -> cbhours.CBHoursResource:
    return cbhours.CBHoursResource(url=sim.url + "/api.php", max_per_minute=per_minute, timeout=10, retries=3)


def _fast_client(res) -> HttpClient:
    return HttpClient("cbhours-test", retries=2, backoff_factor=0.05, limiter=RateLimiter(0))


def test_a_live_cycle_lands_every_answer_whole(clean, fresh_sim):
    names = fresh_sim.world.usernames + [f"not_a_model_{i}" for i in range(70)]
    res = _res(fresh_sim)
    with _fast_client(res) as client:
        batch = cbhours.live_batch(client, res, names, T)
    landed = load.land(clean, batch)
    assert landed.rows == 3  # 120 names, 50 a request
    with clean.cursor() as cur:
        cur.execute("select payload from raw.cbhours_live order by row_no")
        answers = [r[0] for r in cur.fetchall()]
    entries = {u: e for a in answers for u, e in a["data"].items()}
    affiliate_online = {r["username"]: r for r in fresh_sim.world.online_rooms(T)}
    for name, entry in entries.items():
        if entry["room_status"] == "Online":
            assert name in affiliate_online
            assert entry["viewers"] == affiliate_online[name]["num_users"]
            assert entry["gender"] in {"Female", "Male", "Trans", "Couple"}
        else:
            assert entry == {"room_status": "Offline"}
    assert batch.meta["online"] == sum(1 for e in entries.values() if e["room_status"] == "Online") > 0


def test_error_300_is_a_fact_not_a_failure_and_the_model_is_not_asked_again(clean, fresh_sim):
    outsiders = [u for u in fresh_sim.world.usernames if not fresh_sim.world.in_trophy_db(u)][:2]
    insiders = [u for u in fresh_sim.world.usernames if fresh_sim.world.in_trophy_db(u)][:2]
    assert outsiders and insiders
    res = _res(fresh_sim)
    day = T.date()
    with _fast_client(res) as client:  # fetched now: the Error 300 is recent, so it is not asked again
        batch = cbhours.activity_batch(client, res, outsiders + insiders, day, day, datetime.now(UTC))
    landed = load.land(clean, batch)
    assert batch.meta["not_in_trophy_db"] == 2 and landed.quarantined == 0 and landed.rows == 4
    tracking = cbhours.TrackingResource(watchlist=",".join(outsiders + insiders), owner=fresh_sim.world.owner,
                                        max_models=50, error300_recheck_hours=24)
    tracked = cbhours.tracked_models(clean, tracking)
    assert set(insiders) <= set(tracked) and not set(outsiders) & set(tracked)
    assert tracked[0] == insiders[0]  # the watch list comes first, in its order


def test_a_malformed_answer_is_quarantined_while_the_others_land(clean, fresh_sim):
    names = fresh_sim.world.usernames + [f"not_a_model_{i}" for i in range(30)]
    fresh_sim.inject("/api.php", "malformed")
    res = _res(fresh_sim)
    with _fast_client(res) as client:
        batch = cbhours.live_batch(client, res, names, T)
    landed = load.land(clean, batch)
    assert (landed.rows, landed.quarantined) == (1, 1)
    assert "malformed JSON" in batch.rejects[0].reason


def test_a_cycle_that_lost_answers_is_a_warning_naming_the_models_without_one(clean, fresh_sim):
    """Two of three get_live requests refused: the run is green (the third answer lands), and the asset's
    check cbhours_live_complete is a warning that names the 100 models without an answer; a full cycle
    passes it."""
    import dagster as dg

    from mhc_pipeline.definitions import defs

    names = fresh_sim.world.usernames[:40] + [f"not_a_model_{i}" for i in range(80)]
    tracking = cbhours.TrackingResource(watchlist=",".join(names), owner=fresh_sim.world.owner, max_models=500,
                                        error300_recheck_hours=24)
    resources = {**defs.resources, "tracking": tracking, "cbhours": _res(fresh_sim)}

    def cycle(at: datetime):
        result = dg.materialize([cbhours.cbhours_live], resources=resources, raise_on_error=False,
                                run_config={"ops": {"raw__cbhours_live": {"config": {"fetched_at": at.isoformat()}}}})
        assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
        [check] = result.get_asset_check_evaluations()
        return check

    tracked = cbhours.tracked_models(clean, tracking)
    fresh_sim.inject("/api.php", "malformed", count=2)
    partial = cycle(T)
    assert not partial.passed and partial.severity == dg.AssetCheckSeverity.WARN
    assert partial.metadata["models_without_answer"].value == 100
    assert partial.description.startswith(f"100 of {len(tracked)} tracked models got no answer this cycle "
                                          "(2 get_live request(s) refused: ")
    assert ", ".join(tracked[:10]) + " and 90 more" in partial.description
    assert count(clean, "select count(*) from raw.quarantine where fetched_at = %s", T) == 2
    assert cycle(T + timedelta(minutes=1)).passed


def _activity_truth(world, name: str, day) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    slots = 0
    t = start
    while t < start + timedelta(days=1) and t <= T:
        slots += world.is_online(name, t)
        t += timedelta(minutes=3)
    return slots


def test_one_request_per_second_holds_for_a_backfill_beside_the_live_cycle(clean, fresh_sim, pg_url):
    """Two clients with their own limiter objects and connections (as two processes would be) share
    CBHours' 1 request/s through PostgreSQL; the simulator's own log measures the rate."""
    fresh_sim.cbhours_rate_limit = True  # the simulator blocks (429) anything faster than 1/s
    world = fresh_sim.world
    models = [u for u in world.usernames if world.in_trophy_db(u)][:4]
    res = _res(fresh_sim, per_minute=60)
    fresh_sim.reset_requests()
    errors: list[Exception] = []

    def backfill():
        try:
            with res.client(pg_url) as client:
                cbhours.activity_batch(client, res, models, T.date() - timedelta(days=2), T.date(), T)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def live():
        try:
            with res.client(pg_url) as client:
                for _ in range(2):
                    cbhours.live_batch(client, res, world.usernames + [f"x{i}" for i in range(30)], T)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=backfill), threading.Thread(target=live)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors
    log = [r for r in fresh_sim.requests if r.path.startswith("/api.php")]
    assert len(log) == 4 + 4  # 4 activity requests, 2 live cycles of 2 requests
    times = sorted(r.mono for r in log)
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\nCBHours: {len(times)} requests in {times[-1] - times[0]:.2f}s = {rate:.3f} requests/s")
    assert rate <= 1.0
    assert all(r.status == 200 for r in log), "the simulator blocked a request: faster than 1/s"
    assert not fresh_sim.source_state("cbhours").get("violations")
