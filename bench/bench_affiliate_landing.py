"""Benchmark: land a 10,000-room Affiliate crawl served by the simulator, against a bare COPY.

Measured in one run, side by side, on the same embedded PostgreSQL 18:
  A. the pipeline path: HTTP crawl of the simulator (paged, 500/page, in another process) + validation +
     dedupe + the loader (COPY into raw, batch bookkeeping, one transaction);
  B. a bare `COPY` of the same rows (already serialised, no HTTP, no validation) into a table of the
     same shape.
Prints rows/s for each and the ratio A/B (target >= 0.5). Each is repeated and the best run is kept.

    .venv/bin/python bench/bench_affiliate_landing.py [--world 24000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mhc_pipeline import db, load  # noqa: E402
from mhc_pipeline.defs.affiliate import client as affiliate  # noqa: E402

PATH = "/api/public/affiliates/onlinerooms/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=24_000, help="models in the world (~42%% online: ~10k rooms)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mhc-bench-"))
    url = db.start_embedded(tmp / "pgdata", cleanup_mode="delete")
    port = _free_port()
    # the simulator runs in its own process, as the real API would: its CPU is not ours
    sim = subprocess.Popen([sys.executable, "-m", "mhc_pipeline.cli", "simulate", "--rooms", str(args.world),
                            "--port", str(port), "--seed", "3"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(base + "/_sim/health", timeout=0.5).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    try:
        t0 = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
        requests.post(base + "/_sim/clock", json={"now": t0.isoformat()}, timeout=5)
        res = affiliate.AffiliateResource(url=base + PATH, wm="SIMWM", client_ip="request_ip", page_size=500,
                                          max_per_minute=0, timeout=30, retries=2)
        warm = affiliate.crawl(res, t0)  # warms the simulator's cache for this minute
        n = len(warm.records)
        print(f"world: {args.world} models, {n} online rooms at {t0.isoformat()} "
              f"({sum(len(orjson.dumps(r)) for r in warm.records) / n:.0f} bytes of JSON per room)")

        with db.connection(url) as conn:
            load.ensure_raw_table(conn, affiliate.TABLE)
            with conn.cursor() as cur:
                cur.execute(f"create table raw.bare_copy (like raw.{affiliate.TABLE} including all)")
            conn.commit()

            pipeline, bare = [], []
            for i in range(args.repeat):
                fetched_at = t0 + timedelta(seconds=i + 1)
                started = time.perf_counter()
                batch, landed = affiliate.land_crawl(conn, res, fetched_at)
                pipeline.append(time.perf_counter() - started)
                assert landed.rows == n, (landed.rows, n)

                # the bare COPY of the same rows: pre-serialised, one COPY, one commit
                lines = b"".join(
                    b"%s\t%d\taffiliate\t%s\t%s\t%s\n"
                    % (str(landed.batch_id).encode(), j, fetched_at.isoformat().encode(), b"req",
                       orjson.dumps(r).replace(b"\\", b"\\\\"))
                    for j, r in enumerate(warm.records)
                )
                started = time.perf_counter()
                with conn.cursor() as cur:
                    cur.copy_expert("copy raw.bare_copy (batch_id, row_no, source, fetched_at, request, payload) "
                                    "from stdin", io.BytesIO(lines))
                conn.commit()
                bare.append(time.perf_counter() - started)

        best_p, best_b = min(pipeline), min(bare)
        print(f"pipeline (HTTP + validate + dedupe + loader COPY): {best_p:.3f} s  {n / best_p:,.0f} rows/s "
              f"(runs: {', '.join(f'{x:.3f}' for x in pipeline)})")
        print(f"bare COPY of the same rows:                        {best_b:.3f} s  {n / best_b:,.0f} rows/s "
              f"(runs: {', '.join(f'{x:.3f}' for x in bare)})")
        print(f"ratio pipeline/bare (rows/s): {best_b / best_p:.2f}  (target >= 0.5)")
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
