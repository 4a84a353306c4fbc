"""Write what the field catalog (seeds/field_catalog.csv) defines into the files dbt reads.

A merged or profile field is one row of the catalog: its name, SQL type, whether the merge gives it
(`merged`), whether it belongs to the live block (`live_block`), its value when no source gives one
(`if_unknown`), whether `profiles` keeps it (`profile`), its place among the original columns of
v_person_current_state (`original_position`), its data test (`data_test`) and its descriptions. From it
this script writes:

- macros/field_catalog.sql: the macro `field_catalog()` (dbt cannot read a seed's rows while it
  parses and compiles; merged_fields(), profile_fields() and v_person_current_state read this macro);
- the columns of the fields in the contracts and docs of person_current_state,
  v_person_current_state and profiles (models/marts/<model>.yml), between the lines
  `# >>> field_catalog: <region>` and `# <<< field_catalog`; the rest of those files is written by hand.

    python dbt_project/scripts/field_catalog.py           # write the files
    python dbt_project/scripts/field_catalog.py --check   # exit 1 if a file differs from the catalog

tests/test_field_catalog.py keeps the files equal to the catalog.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CATALOG = PROJECT / "seeds" / "field_catalog.csv"
MACRO = PROJECT / "macros" / "field_catalog.sql"
MARTS = PROJECT / "models" / "marts"

BEGIN = "# >>> field_catalog: "
END = "# <<< field_catalog"
INDENT = "      "

# data_test -> the YAML of the test (under `data_tests:`)
DATA_TESTS = {
    "not_blank": ["- not_blank"],
    "not_null": ["- not_null"],
    "gender_code": ["- accepted_values:", "    arguments:", "      values: ['f', 'm', 't', 'c']",
                    "    config:", "      severity: warn"],
    "show_code": ["- accepted_values:", "    arguments:",
                  "      values: ['public', 'private', 'group', 'away', 'hidden']",
                  "    config:", "      severity: warn"],
}
BOOLEANS = ("merged", "live_block", "profile")


def read_catalog(path: Path = CATALOG) -> list[dict]:
    """The catalog's rows, typed: booleans for the flags, an int or None for original_position."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in BOOLEANS:
            if row[key] not in ("true", "false"):
                raise ValueError(f"{path.name}: {row['name']}.{key} must be true or false, not {row[key]!r}")
            row[key] = row[key] == "true"
        row["if_unknown"] = row["if_unknown"] or None
        row["original_position"] = int(row["original_position"]) if row["original_position"] else None
        if row["data_test"] and row["data_test"] not in DATA_TESTS:
            raise ValueError(f"{path.name}: {row['name']}.data_test {row['data_test']!r} "
                             f"is not one of {sorted(DATA_TESTS)}")
    return rows


def macro_text(rows: list[dict]) -> str:
    keys = ("name", "data_type", "merged", "live_block", "if_unknown", "profile", "original_position")
    lines = []
    for row in rows:
        items = ", ".join(f"{json.dumps(k)}: {_jinja(row[k])}" for k in keys)
        lines.append(f"        {{{items}}},")
    return (
        "{#-\n"
        "    GENERATED from seeds/field_catalog.csv by dbt_project/scripts/field_catalog.py: edit the\n"
        "    catalog, then run the script (tests/test_field_catalog.py checks this file).\n"
        "    Every field of the catalog, in its order: name, data_type, merged, live_block, if_unknown\n"
        "    (none, or the SQL value used when no source gives one), profile, original_position.\n"
        "-#}\n"
        "{% macro field_catalog() -%}\n"
        "    {{ return([\n" + "\n".join(lines) + "\n    ]) }}\n"
        "{%- endmacro %}\n"
    )


def _jinja(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _column(name: str, data_type: str, description: str, tests: list[str] = ()) -> list[str]:
    lines = [f"- name: {name}", f"  data_type: {data_type}", f"  description: {json.dumps(description)}"]
    if tests:
        lines.append("  data_tests:")
        lines += [f"    {t}" for t in tests]
    return lines


def _value(row: dict, description: str, tested: bool = True) -> list[str]:
    return _column(row["name"], row["data_type"], description,
                   DATA_TESTS.get(row["data_test"], []) if tested else [])


def _merge_provenance(row: dict) -> list[str]:
    name = row["name"]
    return (_column(f"{name}_source", "text",
                    f"Which source gave {name} (a merge_rules.source); null when no source gives a value.")
            + _column(f"{name}_observed_at", "timestamptz",
                      f"When that source observed the {name} value; older than the field's window "
                      "when it is a `latest` fallback."))


def regions(rows: list[dict]) -> dict[tuple[str, str], list[str]]:
    """(model, region) -> the YAML lines of that region (without the indent)."""
    merged = [r for r in rows if r["merged"]]
    original = sorted((r for r in merged if r["original_position"]), key=lambda r: r["original_position"])
    others = [r for r in merged if not r["original_position"]]
    out: dict[tuple[str, str], list[str]] = {}
    out["person_current_state", "merged fields"] = [
        line for r in merged for line in _value(r, r["description"]) + _merge_provenance(r)]
    # the view shows the table's rows: their data tests run on person_current_state
    out["v_person_current_state", "original fields"] = [
        line for r in original for line in _value(r, r["description"], tested=False)]
    out["v_person_current_state", "other fields and provenance"] = (
        [line for r in others for line in _value(r, r["description"], tested=False)]
        + [line for r in merged for line in _merge_provenance(r)])
    out["profiles", "profile fields"] = [
        line for r in rows if r["profile"] for line in
        _value(r, r["profile_description"])
        + _column(f"{r['name']}_source", "text",
                  f"Which source gave {r['name']} (the source of the newest observation, a merge source "
                  "of the source map); null when none did.",
                  ["- is_a_source:", "    arguments:", "      kind: merge"])
        + _column(f"{r['name']}_observed_at", "timestamptz",
                  f"When that source observed the {r['name']} value (no window: it may be old).")]
    return out


def render(text: str, model: str, regions_of: dict[tuple[str, str], list[str]]) -> str:
    """`text` (a model's YAML) with every field_catalog region replaced by the catalog's lines."""
    pattern = re.compile(rf"^(?P<indent> *){re.escape(BEGIN)}(?P<region>[^\n]+)\n.*?^ *{re.escape(END)}\n",
                         re.M | re.S)

    def fill(m: re.Match) -> str:
        key = (model, m.group("region"))
        if key not in regions_of:
            raise ValueError(f"{model}.yml: unknown field_catalog region {m.group('region')!r}")
        indent = m.group("indent")
        body = "".join(f"{indent}{line}\n" for line in regions_of[key])
        return f"{indent}{BEGIN}{m.group('region')}\n{body}{indent}{END}\n"

    return pattern.sub(fill, text)


def expected_files() -> dict[Path, str]:
    """Every generated file and the text it must have."""
    rows = read_catalog()
    regions_of = regions(rows)
    files = {MACRO: macro_text(rows)}
    for model in sorted({model for model, _ in regions_of}):
        path = MARTS / f"{model}.yml"
        files[path] = render(path.read_text(), model, regions_of)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the files that differ (exit 1)")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(PROJECT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
