"""The field catalog (dbt_project/seeds/field_catalog.csv) is the one place a field is defined: the files
dbt reads are written from it by dbt_project/scripts/field_catalog.py, as .env.example is from the settings."""
import importlib.util
from pathlib import Path

import yaml

DBT = Path(__file__).resolve().parent.parent / "dbt_project"


def _script():
    spec = importlib.util.spec_from_file_location("field_catalog", DBT / "scripts" / "field_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_files_equal_the_catalog():
    """Run `python dbt_project/scripts/field_catalog.py` after editing the catalog."""
    for path, text in _script().expected_files().items():
        assert path.read_text() == text, f"{path.relative_to(DBT)} differs from seeds/field_catalog.csv"


def test_every_catalog_field_has_its_columns_in_the_contracts():
    fields = _script().read_catalog()

    def columns(model: str) -> list[str]:
        spec = yaml.safe_load((DBT / "models" / "marts" / f"{model}.yml").read_text())
        return [c["name"] for c in spec["models"][0]["columns"]]

    merged = [f["name"] for f in fields if f["merged"]]
    profile = [f["name"] for f in fields if f["profile"]]
    for model, names in (("person_current_state", merged), ("v_person_current_state", merged),
                         ("profiles", profile)):
        cols = columns(model)
        for name in names:
            assert {name, f"{name}_source", f"{name}_observed_at"} <= set(cols), (model, name)
    original = [f["name"] for f in sorted(fields, key=lambda f: f["original_position"] or 0)
                if f["original_position"]]
    view = columns("v_person_current_state")
    assert view[4:4 + len(original)] == original  # after id, username, platform, role


def test_the_merge_rules_name_only_catalog_fields():
    fields = {f["name"] for f in _script().read_catalog() if f["merged"]}
    rules = (DBT / "seeds" / "merge_rules.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in rules} <= fields
