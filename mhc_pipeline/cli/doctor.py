"""`mhc doctor`: every setting, where its value came from, and whether the database and each source answer."""

from __future__ import annotations

import os
import sys

import click

from mhc_pipeline import db, settings
from mhc_pipeline.http import HttpClient, SourceError, redact


@click.command("doctor", short_help="List every setting, where it came from, and whether each source answers.")
@click.option("--no-probe", is_flag=True, help="Only list the settings: do not contact the database or the sources.")
def command(no_probe: bool) -> int:
    """Every setting with its value (secrets hidden) and where it came from (environment, .env, default),
    then whether the database and each source's URL answer. Exit 0: all is well; 1: something does not
    answer; 2: a setting the pipeline cannot start with (named, with its fix)."""
    dotenv = settings.dotenv_values()
    env = dict(os.environ)
    problems = _setting_problems(env)
    filled = settings.prepare_env(dict(env), check=False)
    production = settings.is_production(env)
    print(f"mode: {'production' if production else 'development (the defaults are the bundled simulator)'}")
    width = max(len(s.name) for s in settings.SETTINGS)
    for s in settings.SETTINGS:
        print(f"  {s.name:<{width}}  {_shown(s, filled.get(s.name, '')):<60}  {_origin(s, env, dotenv)}")
    failed = 0
    if not no_probe:
        print("answers:")
        failed += not _probe_database(filled)
        for s in settings.source_url_settings():
            failed += not _probe_source(s, filled[s.name])
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 2 if problems else (1 if failed else 0)


def _setting_problems(env: dict[str, str]) -> list[str]:
    """What would stop `mhc dev` and the code location (prepare_env's own check, on a copy): a source URL
    at its simulator default in production, a credential missing for a real source."""
    try:
        settings.prepare_env(dict(env), check=True)
    except settings.SettingError as exc:
        return [str(exc)]
    return []


def _shown(s: settings.Setting, value: str) -> str:
    if s.kind in ("credential", "secret"):
        if not value:
            return "(not set)"
        return "(the simulator's)" if value == s.sim_value else "(set, hidden)"
    if s.name.endswith("DATABASE_URL"):
        return db.redact_url(value) if value else ""
    return redact(value)


def _origin(s: settings.Setting, env: dict[str, str], dotenv: dict[str, str]) -> str:
    if env.get(s.name):
        return ".env" if dotenv.get(s.name) == env[s.name] else "environment"
    if s.kind in ("credential", "secret"):
        return "simulator value" if s.sim_value else "not set"
    return "default"


def _probe_database(env: dict[str, str]) -> bool:
    url = env["MHC_DATABASE_URL"]
    if url == "embedded":
        print(f"  database: embedded PostgreSQL under {env['MHC_DATA_DIR']}/pgdata (started by `mhc` on demand)")
        return True
    try:
        db.check_reachable(url)
    except db.Unreachable as exc:
        print(f"  database: NO ANSWER: {exc}")
        return False
    print(f"  database: answers ({db.redact_url(url)})")
    return True


def _probe_source(s: settings.Setting, url: str) -> bool:
    """One GET of the source's URL, no retries: any HTTP answer (even 401 or 404) means the server is there."""
    source = s.name.removeprefix("MHC_").removesuffix("_URL").lower()
    simulator = settings.is_simulated(url)
    try:
        with HttpClient(source, retries=0, timeout=5, connect_timeout=3) as client:
            fetched = client.request("GET", url)
    except SourceError as exc:
        hint = ": the bundled simulator, started by `mhc simulate` or `mhc dev`" if simulator else ""
        print(f"  {source}: NO ANSWER: {redact(str(exc))}{hint}")
        return False
    where = "the bundled simulator" if simulator else redact(url)
    print(f"  {source}: answers (HTTP {fetched.status} in {fetched.elapsed * 1000:.0f} ms, {where})")
    return True
