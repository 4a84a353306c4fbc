"""Benchmark: import a legacy MHC Control Panel database (`mhc import-legacy`), against a bare COPY.

Generates, in an embedded PostgreSQL 18 (a database `legacy_bench` beside the pipeline's), the legacy
schema of original-system.md §2 with --persons persons, --affiliate Affiliate rows
(`affiliate_api_polling`) and --events `event_logs` rows (whole Events API envelopes as jsonb), then
measures in the same run, on the same server:
  A. the import: `legacy.import_legacy` (read-only server-side cursor in mark order, person mapping,
     UTC conversion of every time column, quarantine checks, the loader's COPY into raw with batch
     bookkeeping and the high-water mark, one transaction per chunk);
  B. a bare `COPY (select to_jsonb(t) from <table> t) TO STDOUT` from the legacy database piped into
     `COPY <scratch>(payload) FROM STDIN` in the pipeline database: the same rows, no checks.
Prints rows/s of each per table and the ratio A/B.

    .venv/bin/python bench/bench_legacy_import.py [--affiliate 1000000] [--events 1000000] [--persons 20000]
"""

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mhc_pipeline import db  # noqa: E402
from mhc_pipeline.defs.legacy import client as legacy  # noqa: E402
from tests import legacy_fixture as lf  # noqa: E402


def generate(url: str, persons: int, affiliate: int, events: int) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"""
            insert into persons (username, role, first_seen_at, last_seen_at)
            select 'model_' || g, case when g % 3 = 0 then 'VIEWER' else 'MODEL' end,
                   timestamp '2026-01-01' + g * interval '1 second', timestamp '2026-06-01'
              from generate_series(1, {persons}) g""")
        cur.execute("create temp table ids as select row_number() over (order by id) as n, id from persons")
        cur.execute(f"""
            insert into affiliate_api_polling (person_id, observed_at, seconds_online, session_start, current_show,
                room_subject, tags, num_users, num_followers, is_hd, image_url_360x270, created_at)
            select ids.id, timestamp '2026-01-01' + g * interval '7 seconds', 3600 + g % 600,
                   timestamp '2026-01-01' + g * interval '7 seconds' - interval '1 hour',
                   (array['public','private','group','away'])[1 + g % 4],
                   'Goal: dance at 500 tokens #tag' || (g % 50) || ' #lovense #new',
                   array['tag' || (g % 50), 'lovense', 'new'], g % 2000, 1000 + g % 90000, g % 2 = 0,
                   'https://roomimg.stream.highwebmedia.com/ri/model_' || (g % {persons}) || '.jpg',
                   timestamp '2026-01-01' + g * interval '7 seconds'
              from generate_series(1, {affiliate}) g
              join ids on ids.n = 1 + g % {persons}""")
        cur.execute(f"""
            insert into event_logs ("timestamp", created_at, method, broadcaster, username, raw_event, cb_event_id)
            select t, t, m, 'hudson_cage', 'viewer_' || (g % 5000),
                   jsonb_build_object('method', m, 'id', (extract(epoch from t) * 1000)::bigint || '-' || g,
                       'object', jsonb_build_object('broadcaster', 'hudson_cage',
                           'user', jsonb_build_object('username', 'viewer_' || (g % 5000), 'inFanclub', false,
                               'gender', 'm', 'hasTokens', true, 'recentTips', 'none', 'isMod', false),
                           'message', jsonb_build_object('message', 'hello there ' || g, 'color', '#494949',
                               'font', 'default', 'bgColor', null))),
                   (extract(epoch from t) * 1000)::bigint || '-' || g
              from (select g, timestamptz '2026-01-01 00:00:00+00' + g * interval '3 seconds' as t,
                           (array['chatMessage','tip','userEnter','follow'])[1 + g % 4] as m
                      from generate_series(1, {events}) g) s""")
        cur.execute("analyze")
    conn.close()


def bare_copy(legacy_url: str, url: str, table: str) -> tuple[int, float]:
    """COPY the rows out of the legacy database as JSON and into a jsonb column: rows, seconds."""
    import psycopg2

    src = psycopg2.connect(legacy_url)
    dst = psycopg2.connect(url)
    with dst.cursor() as cur:
        cur.execute("drop table if exists public.bare_copy; create table public.bare_copy (payload jsonb)")
    dst.commit()
    started = time.monotonic()
    buf = io.BytesIO()
    with src.cursor() as cur:
        cur.copy_expert(f"copy (select to_jsonb(t) from {table} t) to stdout", buf)
    buf.seek(0)
    with dst.cursor() as cur:
        cur.copy_expert("copy public.bare_copy (payload) from stdin", buf)
        dst.commit()
        seconds = time.monotonic() - started
        cur.execute("select count(*) from public.bare_copy")
        rows = cur.fetchone()[0]
        cur.execute("drop table public.bare_copy")
    dst.commit()
    src.close()
    dst.close()
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--affiliate", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=legacy.CHUNK_ROWS)
    args = parser.parse_args()

    url = db.start_embedded(Path(tempfile.mkdtemp(prefix="mhc-bench-legacy-")) / "pgdata", cleanup_mode="delete")
    legacy_url = lf.create(db._with_database(url, "postgres"), "legacy_bench", "new")
    started = time.monotonic()
    generate(legacy_url, args.persons, args.affiliate, args.events)
    print(f"generated {args.persons:,} persons, {args.affiliate:,} Affiliate rows, {args.events:,} event_logs rows "
          f"in {time.monotonic() - started:.1f}s", flush=True)

    with db.connection(url) as conn:
        results = legacy.import_legacy(conn, legacy_url, tables=["persons", "affiliate", "event_logs"],
                                       chunk_rows=args.chunk_rows)
    print("\n".join(legacy.summary_lines(results)), flush=True)

    print(f"\n{'table':<24} {'rows':>10} {'import rows/s':>14} {'bare COPY rows/s':>17} {'ratio':>7}")
    for name, table in (("affiliate", "affiliate_api_polling"), ("event_logs", "event_logs")):
        r = results[name]
        rows, seconds = bare_copy(legacy_url, url, table)
        assert rows == r.read, (rows, r.read)
        imported, bare = r.read / r.seconds, rows / seconds
        print(f"{table:<24} {rows:>10,} {imported:>14,.0f} {bare:>17,.0f} {imported / bare:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
