"""dbt inside Dagster: the project, how its nodes become assets, and the one `dbt build` asset.

The dbt source `raw.<table>` has the asset key `raw/<table>`, the key of the landing asset that writes
that table, so the lineage is one graph from HTTP to the merged state. dbt data tests become Dagster
asset checks (blocking when their severity is `error`).
"""


import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from mhc_pipeline import db, settings
from mhc_pipeline.resources import PostgresResource

DBT_PROJECT = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")

# the folder under models/ decides the asset group (the layer)
LAYER_GROUPS = {"staging": "staging", "history": "history", "intermediate": "merged", "marts": "merged"}
OWNERS = ["team:mhc-pipeline"]


def ensure_manifest() -> Path:
    """Parse the dbt project when there is no manifest yet (fresh clone), or under `dagster dev`."""
    # the preparer calls `dbt` from PATH: make it this environment's dbt even when the venv is not active
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    DBT_PROJECT.prepare_if_dev()
    if not DBT_PROJECT.manifest_path.exists():
        DBT_PROJECT.preparer.prepare(DBT_PROJECT)
    return DBT_PROJECT.manifest_path


class MhcDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Optional[DbtProject]) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "source":
            return spec
        fqn = props.get("fqn") or []
        folder = fqn[1] if len(fqn) > 2 else ""
        group = "reference" if props.get("resource_type") == "seed" else LAYER_GROUPS.get(folder, "merged")
        return spec.replace_attributes(group_name=group, owners=OWNERS)


TRANSLATOR = MhcDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(dg.Config):
    as_of: Optional[str] = None  # the merge's build time (dbt var `as_of`); default now
    full_refresh: bool = False


def dbt_args(config: DbtBuildConfig) -> list[str]:
    args = ["build"]
    if config.full_refresh:
        args.append("--full-refresh")
    if config.as_of:
        args += ["--vars", json.dumps({"as_of": config.as_of})]
    return args


@dbt_assets(
    manifest=ensure_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="mhc_dbt_models",
    pool="dbt",
)
def mhc_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource,
                   config: DbtBuildConfig):
    from mhc_pipeline import load
    from mhc_pipeline.sources import RAW_TABLES

    with postgres.connect() as conn:  # dbt reads every raw table: make sure they exist
        for table in RAW_TABLES:
            load.ensure_raw_table(conn, table, postgres.raw_schema)
    db.export_libpq_env(postgres.resolved_url())
    yield from dbt.cli(dbt_args(config), context=context).stream().fetch_row_counts()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, profiles_dir=str(settings.DBT_PROJECT_DIR),
                          dbt_executable=DBT_EXECUTABLE)
