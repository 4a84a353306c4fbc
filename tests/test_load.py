"""The loader: COPY into raw, idempotent batches, quarantine beside the good rows, atomic batches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mhc_pipeline import load
from mhc_pipeline.load import Batch, FieldRule, Reject
from tests.conftest import count, reset_raw

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TABLE = "test_things"


@pytest.fixture()
def clean(conn):
    load.ensure_raw_table(conn, TABLE)
    conn.commit()
    reset_raw(conn, TABLE)
    return conn


def _batch(n: int = 3, at: datetime = T0, **kw) -> Batch:
    records = [{"username": f"user_{i}", "n": i, "text": "tab\there\nnew \\ line \"q\" ✨"} for i in range(n)]
    return Batch(source="test", table=TABLE, fetched_at=at, records=records,
                 requests=["http://127.0.0.1/x?token=SECRET123&page=1"], **kw)


def test_a_batch_lands_whole_payloads_with_its_context(clean):
    landed = load.land(clean, _batch(3))
    assert (landed.rows, landed.quarantined, landed.already_landed) == (3, 0, False)
    with clean.cursor() as cur:
        cur.execute(f"select row_no, source, fetched_at, request, payload from raw.{TABLE} order by row_no")
        rows = cur.fetchall()
    assert [r[0] for r in rows] == [0, 1, 2]
    assert rows[1][1] == "test" and rows[1][2] == T0
    assert rows[1][4] == {"username": "user_1", "n": 1, "text": "tab\there\nnew \\ line \"q\" ✨"}
    assert "SECRET123" not in rows[0][3] and "token=***" in rows[0][3]


def test_landing_the_same_batch_twice_changes_nothing(clean):
    first = load.land(clean, _batch(5))
    second = load.land(clean, _batch(5))
    assert first.batch_id == second.batch_id
    assert second.already_landed and second.rows == 0
    assert count(clean, f"select count(*) from raw.{TABLE}") == 5
    assert count(clean, "select count(*) from raw.batches") == 1
    # another fetch time is another batch
    load.land(clean, _batch(5, at=T0.replace(minute=5)))
    assert count(clean, f"select count(*) from raw.{TABLE}") == 10


def test_rejects_go_to_quarantine_while_good_rows_land(clean):
    batch = _batch(4)
    batch.rejects.append(Reject("missing field 'username'", payload={"num_users": 3}, key="page 0 row 9"))
    batch.records.append({"username": "nul", "text": "a\x00b"})  # jsonb cannot hold NUL
    landed = load.land(clean, batch)
    assert (landed.rows, landed.quarantined) == (4, 2)
    with clean.cursor() as cur:
        cur.execute("select item, reason, payload, body, request from raw.quarantine order by item")
        rows = cur.fetchall()
    reasons = {r[0]: r[1] for r in rows}
    assert reasons["page 0 row 9"] == "missing field 'username'"
    assert "NUL" in reasons["record 4"]
    assert all("SECRET123" not in r[4] for r in rows)
    # quarantine is idempotent too
    load.land(clean, batch)
    assert count(clean, "select count(*) from raw.quarantine") == 2


def test_a_crash_mid_batch_leaves_nothing_and_a_rerun_lands_everything(clean):
    def boom(cur):
        raise RuntimeError("killed mid-batch")

    with pytest.raises(RuntimeError):
        load.land(clean, _batch(6), extra_sql=boom)
    assert count(clean, f"select count(*) from raw.{TABLE}") == 0
    assert count(clean, "select count(*) from raw.batches") == 0
    landed = load.land(clean, _batch(6))
    assert landed.rows == 6 and not landed.already_landed


def test_quarantine_response_keeps_the_body_and_reason_once(clean):
    for _ in range(2):
        load.quarantine_response(clean, source="test", table=TABLE, fetched_at=T0,
                                 request="http://127.0.0.1/events/owner/TOKEN_ABCDEF/?i=1",
                                 reason="expected JSON, got an HTML page", body="<html>Just a moment...</html>",
                                 item="page 2")
    with clean.cursor() as cur:
        cur.execute("select reason, body, request from raw.quarantine")
        rows = cur.fetchall()
    assert len(rows) == 1
    assert rows[0][1].startswith("<html>") and "TOKEN_ABCDEF" not in rows[0][2]


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"num": 1}, "missing field 'username'"),
        ({"username": "", "num": 1}, "field 'username' is empty"),
        ({"username": "a", "num": "lots"}, "field 'num' has type str ('lots'), expected int"),
        ({"username": "a", "num": True}, "field 'num' has type bool, expected int"),
        ({"username": "a", "num": 1, "tags": ["x", 3]}, "field 'tags' has an item of type int"),
        (["not", "a", "dict"], "record is a list, not an object"),
        ({"username": "a", "num": 1, "tags": ["x"]}, None),
    ],
)
def test_validate_names_the_field(record, reason):
    schema = {
        "username": FieldRule((str,), required=True, nullable=False, nonempty=True),
        "num": FieldRule((int,), required=True, nullable=False),
        "tags": FieldRule((list,), item_type=str),
    }
    assert load.validate(record, schema) == reason
