"""The dbt project on disk: where it is, its parsed manifest, and each build's own artifact folder.

A leaf beside mhc_pipeline/dbt.py (which turns the manifest into Dagster assets when it is imported): the
entry points (the `mhc` commands, the tests) call `ensure_manifest()` before Dagster loads the code
location, and importing the code location never runs dbt (`current_manifest`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path

from dagster_dbt import DbtProject

from mhc_pipeline import settings

DBT_PROJECT = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
# `mhc-dbt` (mhc_pipeline.dbt_worker): dbt run by the long-lived dbt worker when one runs (`mhc dev`), else
# dbt itself; plain `dbt` where the package's console scripts are not installed
_BIN = Path(sys.executable).parent
DBT_EXECUTABLE = str(_BIN / "mhc-dbt") if (_BIN / "mhc-dbt").exists() else str(_BIN / "dbt")


def ensure_manifest() -> Path:
    """Parse the dbt project only when there is no manifest yet (a fresh clone) or a dbt file changed
    after it. Called by the entry points (the `mhc` commands, the tests) before Dagster loads the code
    location, never when it is imported (`current_manifest`): under `dagster dev` every run worker imports
    this module, and a `dbt parse` in each (behind one file lock) made runs time out."""
    if not _manifest_is_stale():
        return DBT_PROJECT.manifest_path
    # the preparer calls `dbt` from PATH: make it this environment's dbt even when the venv is not active
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)
    return DBT_PROJECT.manifest_path


def current_manifest() -> Path:
    """The manifest the code location loads; importing it never runs dbt. No manifest at all is an error
    naming the fix; one older than the project (a dbt file changed since `ensure_manifest`) is loaded
    with a warning: the definitions show the models as they were parsed."""
    manifest = DBT_PROJECT.manifest_path
    if not manifest.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {manifest}: the code location loads the parsed dbt project; parse it first "
            "(mhc_pipeline.dbt_project.ensure_manifest(), as the entry points do, or `dbt parse` in dbt_project/)")
    if _manifest_is_stale():
        warnings.warn(f"the dbt manifest {manifest} is older than the dbt project or parsed for another "
                      "database: the definitions show the models as last parsed (ensure_manifest() parses them "
                      "again)", stacklevel=2)
    return manifest


def _manifest_is_stale() -> bool:
    """No manifest yet, or a model, macro, seed, test or project file changed after it was written."""
    manifest = DBT_PROJECT.manifest_path
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    root = settings.DBT_PROJECT_DIR
    files = [root / "dbt_project.yml"] + [
        f for folder in ("models", "macros", "seeds", "tests") for f in (root / folder).rglob("*") if f.is_file()]
    if any(f.stat().st_mtime > written for f in files if f.exists()):
        return True
    return not _manifest_matches_target()


def _manifest_matches_target() -> bool:
    """The manifest names the database (and product schema) the models are built in now: its relation
    names carry both, and Dagster's row counts query them, so a manifest parsed for another database
    (`MHC_DATABASE_URL` changed) must be parsed again."""
    import orjson

    try:
        nodes = orjson.loads(DBT_PROJECT.manifest_path.read_bytes()).get("nodes", {})
    except (OSError, orjson.JSONDecodeError):
        return False
    models = [n for n in nodes.values() if n.get("resource_type") == "model"]
    databases = {n.get("database") for n in models}
    schemas = {n.get("schema") for n in models}
    return (databases == {os.environ.get("MHC_PG_DBNAME", "mhc")}
            and os.environ.get("MHC_PRODUCT_SCHEMA", "mhc") in schemas)


@contextlib.contextmanager
def dbt_env(**values: str):
    """Environment variables for the dbt subprocesses started inside (dagster-dbt hands dbt a copy of
    os.environ), restored afterwards: a build's settings never leak into the next one in this process."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def keep_partial_parse(target: Path) -> None:
    """dagster-dbt starts each build from the project's partial_parse.msgpack. When dbt could not use it
    (the profile's environment differs from the one `dbt parse` ran in), it parsed the whole project
    (~10 CPU-s) and wrote a new one into this build's folder: keep that one, so the next build parses
    only what changed instead of everything again."""
    import shutil

    new = target / "partial_parse.msgpack"
    held = DBT_PROJECT.project_dir / "target" / "partial_parse.msgpack"
    if not new.exists() or (held.exists() and held.read_bytes() == new.read_bytes()):
        return
    tmp = held.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(new, tmp)
    os.replace(tmp, held)


def run_target_path(run_id: str) -> Path:
    """This build's dbt artifact folder (manifest, run results, dbt's log): under MHC_DATA_DIR, never in
    the source tree, one per build so concurrent builds do not share files."""

    return settings.data_dir() / "dbt_runs" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{run_id[:8]}-{uuid.uuid4().hex[:6]}"


def prune_run_targets(keep: int) -> list[Path]:
    """Delete all but the newest `keep` dbt artifact folders (each build writes ~24 MB: one a minute
    under `mhc dev` would fill a disk in weeks). Returns the folders deleted."""
    import shutil

    root = settings.data_dir() / "dbt_runs"
    if not root.is_dir():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    old = folders[:-keep] if keep > 0 else folders
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return old
