"""Adding a source on the dbt side touches only its own folders plus two data rows (issue 14).

The toy source in tests/toy_source/ (staging, history and intermediate folders) is copied into a copy of
dbt_project/, with its entry in the source map (var `sources` of dbt_project.yml) and one row in
merge_rules.csv; no other file changes. dbt then wires it everywhere a source belongs (the merge's
observations, persons' evidence, the freshness and coverage reports, the source-name tests), and a toy
landing flows to the merged state: built in a database of its own on the session's server, the toy's
follower count is the person's `followers` in v_person_current_state, with the toy as its source.

The Python side is one folder too: tests/toy_source/defs/toy/ (its spec and landing asset) is copied to
mhc_pipeline/defs/toy/ of a copy of the package, beside the copied project. That copy finds it by its
folder (its raw table, its spec), its asset lands the toy answer, and its root definitions put the toy's
landing upstream of the toy's dbt models."""
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from mhc_pipeline import db, load
from mhc_pipeline.sources import RAW_COLUMNS, RAW_TABLES

ROOT = Path(__file__).resolve().parent.parent
TOY = Path(__file__).resolve().parent / "toy_source"
DBT = str(Path(sys.executable).parent / "dbt")

TOY_ENTRY = {
    "observations": "int_toy__observations",
    "merge_source": "toy",
    "person_evidence": "int_toy__person_evidence",
    "monitored": [{"name": "toy", "raw_table": "toy_rooms", "history_model": "toy_snapshots",
                   "time_column": "observed_at"}],
}


TOY_DB = "mhc_toy_source"
FETCHED_AT = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _toy_database(pg_url: str) -> str:
    """A database of the test's own on the session server, with every source's raw table (dbt reads them
    all) and one toy landing: `toyfan` with 1,234 fans."""
    with db.connection(pg_url) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"drop database if exists {TOY_DB} with (force)")
            cur.execute(f"create database {TOY_DB}")
    url = pg_url.replace(f"/{db.libpq_env(pg_url)['MHC_PG_DBNAME']}", f"/{TOY_DB}", 1)
    assert url != pg_url, pg_url
    with db.connection(url) as conn:
        for table in RAW_TABLES:
            load.ensure_raw_table(conn, table, columns=RAW_COLUMNS.get(table, ()))
        conn.commit()
    return url


LAND = """
import dagster as dg
from mhc_pipeline import sources
from mhc_pipeline.defs.toy import definitions as toy
from mhc_pipeline.resources import PostgresResource
assert sources.__file__.startswith({root!r}), sources.__file__  # the copy, not the installed package
assert "toy" in sources.SOURCES and "toy_rooms" in sources.RAW_TABLES, sources.RAW_TABLES
assert dg.materialize([toy.toy_rooms], resources={{"postgres": PostgresResource(url={url!r})}}).success
"""

LINEAGE = """
import dagster as dg
from mhc_pipeline.definitions import defs
graph = defs.resolve_asset_graph()
[staging] = [k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_toy__rooms"]
assert graph.get(staging).parent_keys == {dg.AssetKey(["raw", "toy_rooms"])}, graph.get(staging).parent_keys
print("lineage ok")
"""


def _python(root: Path, code: str, env: dict) -> None:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300,
                         env={**env, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_a_toy_source_is_its_folders_a_map_entry_and_a_merge_rule(tmp_path, pg_url):
    project = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(TOY / "models", project / "models", dirs_exist_ok=True)  # its own dbt folders
    package = tmp_path / "mhc_pipeline"
    shutil.copytree(ROOT / "mhc_pipeline", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TOY / "defs" / "toy", package / "defs" / "toy")  # its own Python folder
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["vars"]["sources"]["toy"] = TOY_ENTRY  # one entry in the source map
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with (project / "seeds" / "merge_rules.csv").open("a") as f:
        f.write("followers,toy,3,60,latest\n")  # one merge rule

    url = _toy_database(pg_url)
    env = {**os.environ, **db.libpq_env(url)}
    _python(tmp_path, LAND.format(root=str(tmp_path), url=url), env)  # the toy's landing asset lands it
    # the models and seeds the merged state is built from (the data tests have their own modules)
    out = subprocess.run([DBT, "build", "--select", "+v_person_current_state", "--exclude-resource-type", "test",
                          "--exclude-resource-type", "unit_test", "--project-dir", str(project),
                          "--profiles-dir", str(project)], capture_output=True, text=True, cwd=project, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr
    nodes = json.loads((project / "target" / "manifest.json").read_text())["nodes"]

    def parents(name: str) -> set[str]:
        node = next(n for n in nodes.values() if n["resource_type"] == "model" and n["name"] == name)
        return set(node["depends_on"]["nodes"])

    assert "model.mhc.int_toy__observations" in parents("int_field_observations")
    assert "model.mhc.int_toy__person_evidence" in parents("persons")
    assert {"model.mhc.toy_snapshots", "source.mhc.raw.toy_rooms"} <= parents("source_freshness")
    assert "model.mhc.toy_snapshots" in parents("int_source_persons")
    source_tests = [n for n in nodes.values() if n["resource_type"] == "test"
                    and n.get("test_metadata", {}).get("name") == "is_a_source"]
    assert source_tests, "the source-name columns are tested against the map"

    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select followers, followers_source, followers_observed_at from mhc.v_person_current_state"
                    " where username = 'toyfan'")
        assert cur.fetchall() == [(1234, "toy", FETCHED_AT)]
    # the copy's root definitions: the toy's landing asset upstream of its staging model (the build above
    # wrote the manifest they load)
    _python(tmp_path, LINEAGE, {**env, "MHC_DATA_DIR": str(tmp_path / "data")})
