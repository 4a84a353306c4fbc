"""The operator's front door, checked in a real browser (Debian Chromium driven by Playwright).

A new user's path on a fresh embedded database of its own (`MHC_DATABASE_URL=embedded` under a new
data folder) and the session simulator: `mhc demo` materializes everything once (job `full_cycle`), then
`mhc dev` starts on a free port, and the test reads the rendered pages: the asset graph shows every
group, the run succeeded, every schedule and the sensor are running, the merged-state asset shows its
checks and freshness, a landing asset shows its run metadata. `mhc docs` serves the dbt docs site, where
`person_current_state` and its columns are found. Screenshots land in test-output/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import browser
import pytest
import requests

from mhc_pipeline import db

MHC = str(Path(sys.executable).parent / "mhc")
DEV_START_TIMEOUT = 420  # first start builds every dbt model once
RUN_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@dataclass
class Dev:
    base: str
    env: dict
    run_id: str
    data_dir: Path
    proc: subprocess.Popen


@pytest.fixture(scope="module")
def expected():
    from mhc_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    return {
        "groups": sorted({spec.group_name for spec in defs.resolve_all_asset_specs()}),
        "automations": sorted([s.name for s in defs.schedules] + [s.name for s in defs.sensors]),
        "merged_checks": sorted(k.name for k in graph.asset_check_keys if k.asset_key.path == ["person_current_state"]),
    }


@pytest.fixture(scope="module")
def dev(sim, tmp_path_factory):
    """A new user's path on a fresh embedded database: `mhc demo` (everything materialized once, job
    full_cycle), then `mhc dev` on a free port; both against the session simulator."""
    browser.ensure_chromium()
    tmp = tmp_path_factory.mktemp("operator-ui")
    env = dict(os.environ, MHC_DATABASE_URL="embedded", MHC_DATA_DIR=str(tmp / "data"),
               # the session simulator is ours alone: StatBate and the follow lists need not be paced as the
               # real sites must be
               MHC_STATBATE_MAX_PER_MINUTE="6000", MHC_FOLLOWS_MAX_PER_MINUTE="6000")
    for name in (*db.libpq_env("postgresql://x@/y"), "DAGSTER_HOME", "MHC_DAGSTER_PG_URL"):
        env.pop(name, None)  # the session database's; the commands derive their own from the setting
    sim.statbate_rate_limit = 0
    demo = subprocess.run([MHC, "demo"], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    (tmp / "mhc-demo.log").write_text(demo.stdout + demo.stderr)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "checks passed" in demo.stdout and "current state" in demo.stdout

    port = _free_port()
    log = tmp / "mhc-dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([MHC, "dev", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/server_info", proc, log, DEV_START_TIMEOUT)
        runs = requests.post(f"{base}/graphql", json={"query": """{ runsOrError(filter: {pipelineName: "full_cycle"})
            { ... on Runs { results { runId status } } } }"""}, timeout=60).json()
        results = runs["data"]["runsOrError"]["results"]
        assert [r["status"] for r in results] == ["SUCCESS"], results
        yield Dev(base=base, env=env, run_id=results[0]["runId"], data_dir=tmp / "data", proc=proc)
    finally:
        _stop(proc)
        subprocess.run([MHC, "db", "stop"], env=env, capture_output=True, timeout=120)
        sim.statbate_rate_limit = 120


@pytest.fixture(scope="module")
def page(dev):
    with browser.launch() as p:
        yield p


def _dismiss_popup(page) -> None:
    """Dagster's one-time "Join the Dagster community" dialog, which opens a moment after the first page."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
        skip.first.wait_for(state="hidden")


def _open(page, url: str, wait_for: str) -> None:
    """Open a page and wait until `wait_for` is rendered."""
    page.goto(url)
    page.get_by_text(wait_for, exact=True).first.wait_for()
    _dismiss_popup(page)


def _shot(page, name: str) -> None:
    _dismiss_popup(page)
    browser.screenshot(page, name)


def test_the_asset_graph_shows_every_group(dev, page, expected):
    _open(page, f"{dev.base}/asset-groups", "merged")
    page.wait_for_timeout(3000)  # the community dialog opens a moment after the first page
    _dismiss_popup(page)
    for group in expected["groups"]:
        page.get_by_text(group, exact=True).first.wait_for()
    page.wait_for_function("() => !document.body.innerText.includes('fetching statuses')", timeout=60_000)
    _shot(page, "01_asset_graph")
    text = page.inner_text("body")
    missing = [g for g in expected["groups"] if g not in text]
    assert not missing, f"groups not shown in the asset graph: {missing}"
    assert {"landing_affiliate", "staging", "history", "merged"} <= set(expected["groups"])


def test_the_last_run_succeeded(dev, page):
    _open(page, f"{dev.base}/runs/{dev.run_id}", "full_cycle")
    page.get_by_text("Success", exact=True).first.wait_for()
    _shot(page, "02_full_cycle_run")
    _open(page, f"{dev.base}/runs", "full_cycle")
    page.get_by_text(dev.run_id[:8], exact=True).first.wait_for()
    row = page.evaluate(
        """(short) => {
            let el = [...document.querySelectorAll('a, span')].find(e => e.textContent.trim() === short);
            while (el && !el.innerText.includes('full_cycle')) el = el.parentElement;
            return el ? el.innerText : null;
        }""", dev.run_id[:8])
    assert row and "Success" in row, row
    _shot(page, "03_runs")


SWITCHES = """(names) => Object.fromEntries(names.map((name) => {
    // the row of `name`: the nearest ancestor holding its select box and its on/off switch
    const el = [...document.querySelectorAll('a, span')].find(e => e.textContent.trim() === name);
    let row = el;
    while (row && row.querySelectorAll('input[type=checkbox]').length < 2) row = row.parentElement;
    if (!row) return [name, null];
    const boxes = row.querySelectorAll('input[type=checkbox]');
    return [name, boxes[boxes.length - 1].checked];
}))"""


def test_every_schedule_and_the_sensor_are_running(dev, page, expected):
    names = expected["automations"]
    _open(page, f"{dev.base}/automation", names[0])
    for name in names:
        page.get_by_text(name, exact=True).first.wait_for()
    try:  # the switches render before the instigators' state has loaded
        page.wait_for_function(f"(names) => Object.values(({SWITCHES})(names)).every(Boolean)", arg=names,
                               timeout=30_000)
    except Exception:
        pass  # the assert below shows which are off
    state = page.evaluate(SWITCHES, names)
    _shot(page, "04_automation")
    assert state == dict.fromkeys(names, True), state


def test_the_merged_state_shows_its_checks_freshness_and_preview(dev, page, expected):
    _open(page, f"{dev.base}/assets/person_current_state?view=checks", "Checks")
    page.get_by_text(f"Checks ({len(expected['merged_checks'])})").first.wait_for()

    def shown(check: str, lines: list[str]) -> bool:  # long names are middle-truncated: "accepted_valu…_hidden"
        return any(line == check or ("…" in line and check.startswith(line.split("…")[0])
                                     and check.endswith(line.split("…")[-1])) for line in lines)

    # the list fills in after its header; the daemon's first cycle (everything due, and the data tests) may
    # be running: its checks show "In Progress" until its `dbt test` has run (reload until it is done)
    deadline, reload_at = time.monotonic() + 240, time.monotonic() + 15
    while True:
        text = page.inner_text("body")
        lines = [line.strip() for line in text.splitlines()]
        missing = [check for check in expected["merged_checks"] if not shown(check, lines)]
        if (not missing and "In Progress" not in text) or time.monotonic() > deadline:
            break
        if time.monotonic() > reload_at:
            _open(page, f"{dev.base}/assets/person_current_state?view=checks", "Checks")
            reload_at = time.monotonic() + 15
        page.wait_for_timeout(500)
    assert not missing, f"checks not shown: {missing}"
    assert text.count("Succeeded") >= len(expected["merged_checks"]) and "Failed" not in text, text[:3000]
    _shot(page, "05_merged_state_checks")

    _open(page, f"{dev.base}/assets/person_current_state", "Freshness policy")
    for shown in ("Latest check results", "preview_top_online", "share_affiliate", "share_cbhours",
                  "Fails if more than 10 minutes since last materialization"):
        page.get_by_text(shown, exact=True).first.wait_for()  # the sections load one after another
    _shot(page, "06_merged_state_overview")
    page.get_by_text("preview_top_online", exact=True).first.scroll_into_view_if_needed()
    _shot(page, "06b_merged_state_metadata")


def test_a_landing_asset_shows_its_run_metadata(dev, page):
    _open(page, f"{dev.base}/assets/raw/affiliate_onlinerooms", "Metadata")
    page.get_by_text("first_quarantine_reasons", exact=True).first.wait_for()
    text = page.inner_text("body")
    for key in ("rows_landed", "rows_quarantined", "first_quarantine_reasons", "pages", "retries", "seconds"):
        assert key in text, key
    for kind in ("Postgres", "Python"):
        assert kind in text
    assert "mhc-pipeline" in text  # the owner
    _shot(page, "07_landing_metadata")


def test_dbt_docs_show_the_merged_state_and_every_column_is_documented(dev, page):
    port = _free_port()
    log = dev.data_dir / "mhc-docs.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([MHC, "docs", "--port", str(port)], env=dev.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log, 180)
        page.goto(f"http://127.0.0.1:{port}/#!/model/model.mhc.person_current_state")
        page.get_by_text("person_current_state", exact=True).first.wait_for()
        page.get_by_text("Columns", exact=True).first.wait_for()
        text = page.inner_text("body")
        for column in ("username", "is_online", "followers", "followers_source", "followers_observed_at",
                       "current_show_source", "landed_at"):
            assert column in text.split(), column
        _shot(page, "08_dbt_docs_person_current_state")
        page.goto(f"http://127.0.0.1:{port}/#!/seed/seed.mhc.merge_rules")
        page.get_by_text("max_age_minutes", exact=True).first.wait_for()
        _shot(page, "09_dbt_docs_merge_rules_seed")
    finally:
        _stop(proc)

    # the site's manifest and catalog: every column of the history tables, persons, profiles,
    # broadcast_sessions, the merged state and the freshness marts has a description, and every seed
    site = dev.data_dir / "dbt_docs"
    manifest = json.loads((site / "manifest.json").read_text())
    catalog = json.loads((site / "catalog.json").read_text())
    wanted = {"persons", "profiles", "broadcast_sessions", "person_current_state", "v_person_current_state",
              "source_freshness", "source_coverage"}
    undocumented, checked = [], 0
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        if not (node["resource_type"] == "seed" or "history" in node["fqn"] or node["name"] in wanted):
            continue
        if not node["description"].strip():
            undocumented.append(node["name"])
        documented = {name.lower() for name, col in node["columns"].items() if col.get("description", "").strip()}
        columns = catalog["nodes"].get(uid, {}).get("columns", {})
        assert columns, f"{node['name']} is not in the catalog (not built?)"
        for column in columns:
            checked += 1
            if column.lower() not in documented:
                undocumented.append(f"{node['name']}.{column}")
    assert checked > 300
    assert not undocumented, f"no description in the dbt docs: {undocumented}"


def test_every_landing_asset_records_the_operator_metadata(dev):
    """What the UI shows for each landing run, read through the webserver's GraphQL: the same core figures
    for every source (mhc_pipeline.metadata.CORE), whatever else the source adds."""
    from mhc_pipeline.metadata import CORE

    query = """{ assetNodes { assetKey { path } groupName
                 assetMaterializations(limit: 1) { metadataEntries { label } } } }"""
    nodes = requests.post(f"{dev.base}/graphql", json={"query": query}, timeout=60).json()["data"]["assetNodes"]
    landing = {"/".join(n["assetKey"]["path"]): n for n in nodes
               if n["groupName"].startswith("landing_") and n["groupName"] != "landing_loader"}
    assert len(landing) >= 9, sorted(landing)
    missing = {}
    for key, node in landing.items():
        if not node["assetMaterializations"]:
            # not in full_cycle: the partitioned activity (backfills, its own schedule) and the legacy import
            assert key == "raw/cbhours_activity" or node["groupName"] == "landing_legacy", \
                f"{key} was not materialized by full_cycle"
            continue
        labels = {e["label"] for e in node["assetMaterializations"][0]["metadataEntries"]}
        if set(CORE) - labels:
            missing[key] = sorted(set(CORE) - labels)
    assert not missing, missing


def _runs(dev) -> list[dict]:
    query = """{ runsOrError { ... on Runs { results { runId status pipelineName tags { key value } } } } }"""
    results = requests.post(f"{dev.base}/graphql", json={"query": query}, timeout=60).json()["data"]["runsOrError"]
    return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in results["results"]]


def _merged_state_as_of(dev):
    url = subprocess.run([MHC, "db", "url"], env=dev.env, capture_output=True, text=True, timeout=120).stdout.strip()
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select max(as_of) from mhc.person_current_state_build")
        return cur.fetchone()[0]


def _launch(dev, job: str) -> str:
    """Launch a job from the UI's GraphQL API, as the Launchpad's button does."""
    mutation = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
    params = {"selector": {"repositoryLocationName": "mhc_pipeline", "repositoryName": "__repository__",
                           "jobName": job}, "runConfigData": {}}
    answer = requests.post(f"{dev.base}/graphql", json={"query": mutation, "variables": {"p": params}},
                           timeout=60).json()["data"]["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return answer["run"]["runId"]


def test_the_daemon_runs_the_schedules_and_the_sensor_and_the_merged_state_moves(dev):
    """The production path: the daemon launches the every-minute cycle's runs (the due sources and the
    models downstream, in one run) and, after a landing that no cycle rebuilt (a landing-only job launched
    from the UI), the dbt_follows_landing sensor's run, as fresh processes (the default run launcher, the
    in-process executor); they succeed, and the merged state moves on without anyone clicking. The dbt
    worker is killed first: `mhc dev` starts it again, and the builds after that run in the new one."""
    dev_log = dev.data_dir.parent / "mhc-dev.log"
    worker_log = dev.data_dir / "logs" / "dbt-worker.log"
    old_worker = int(re.search(r"dbt worker: \S+ \(pid (\d+),", dev_log.read_text()).group(1))
    # killed just after a build of the every-minute cycle ends, so that no run's build dies with it (a
    # build cut off in the worker fails its run, as a killed dbt process would)
    seen_bytes = worker_log.stat().st_size
    deadline = time.monotonic() + 180
    while "dbt build exit" not in worker_log.read_bytes()[seen_bytes:].decode():
        assert time.monotonic() < deadline, "no dbt build in the worker for 3 minutes"
        time.sleep(0.2)
    killed_at = worker_log.stat().st_size
    os.kill(old_worker, signal.SIGKILL)
    before = _merged_state_as_of(dev)
    landing = _launch(dev, "stats_cycle")
    deadline = time.monotonic() + 480
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        runs = _runs(dev)
        failed = [(r["pipelineName"], r["runId"]) for r in runs if r["status"] == "FAILURE"]
        assert not failed, failed
        for r in runs:
            if r["status"] == "SUCCESS" and r["tags"].get("dagster/schedule_name") == "cycle_every_minute":
                seen["schedule"] = r["runId"]
            if r["status"] == "SUCCESS" and r["runId"] == landing:
                seen["landing"] = r["runId"]
            if r["status"] == "SUCCESS" and r["tags"].get("dagster/sensor_name") == "dbt_follows_landing":
                seen["sensor"] = r["runId"]
        # the builds after the kill ran in the dbt worker `mhc dev` started again (mhc_pipeline/dbt_worker.py),
        # with the project parsed once for all of them
        worker = worker_log.read_bytes()[killed_at:].decode()
        if len(seen) == 3 and _merged_state_as_of(dev) > before and "dbt build exit 0" in worker:
            assert "failed" not in worker, worker[-3000:]
            assert f"the dbt worker ended (exit -{int(signal.SIGKILL)}" in dev_log.read_text()
            return
        time.sleep(5)
    raise AssertionError(f"in 8 minutes: runs seen {seen}, merged state as of {_merged_state_as_of(dev)} "
                         f"(before: {before}); runs: {[(r['pipelineName'], r['status']) for r in _runs(dev)][:20]}")


def _processes_of(data_dir: Path) -> list[str]:
    """Processes (other than the embedded PostgreSQL, stopped by the fixture) with this data folder in
    their environment: what an `mhc dev` would have left behind."""
    found = []
    marker = f"MHC_DATA_DIR={data_dir}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in environ.split(b"\0") and "postgres" not in cmdline.split(" ")[0]:
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def test_mhc_dev_stops_within_10_seconds_of_sigterm_and_leaves_nothing_behind(dev):
    assert dev.proc.poll() is None and _processes_of(dev.data_dir)
    started = time.monotonic()
    dev.proc.send_signal(signal.SIGTERM)
    dev.proc.wait(30)
    took = time.monotonic() - started
    time.sleep(1)
    left = _processes_of(dev.data_dir)
    assert took <= 10 and not left, (took, left)
