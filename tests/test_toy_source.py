"""Adding a source on the dbt side touches only its own folders plus two data rows (issue 14).

The toy source in tests/toy_source/ (staging, history and intermediate folders) is copied into a copy of
dbt_project/, with its entry in the source map (var `sources` of dbt_project.yml) and one row in
merge_rules.csv; no other file changes. `dbt parse` then wires it everywhere a source belongs: the
merge's observations, persons' evidence, the freshness and coverage reports, the source-name tests."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

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


def test_a_toy_source_is_its_folders_a_map_entry_and_a_merge_rule(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(TOY, project, dirs_exist_ok=True)  # its own folders
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["vars"]["sources"]["toy"] = TOY_ENTRY  # one entry in the source map
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with (project / "seeds" / "merge_rules.csv").open("a") as f:
        f.write("followers,toy,3,60,latest\n")  # one merge rule

    out = subprocess.run([DBT, "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
                         capture_output=True, text=True, cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
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
