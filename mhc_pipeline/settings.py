"""Every setting of mhc-pipeline, in one table.

Settings are environment variables (a `.env` file in the project root is read too). Every one has a
default that runs the whole pipeline against the embedded PostgreSQL and the bundled simulator, so
nothing needs configuring for a demo. The table is the core settings below, then each source's own rows
(mhc_pipeline/defs/<source>/settings.py), then the shared tail.

Every `mhc` command runs `prepare_env()` before Dagster starts: it fills the defaults into the process
environment, which Dagster's processes inherit, so the resources' `dg.EnvVar`s resolve and a secret is
only ever read from the environment. Importing the code location only reads the settings
(`resources.setting`): it never writes the environment.

A source is in *simulator mode* when its URL points at 127.0.0.1/localhost. Then its credentials
default to the simulator's fake ones. Against a real source a missing credential stops the command at
once with an error naming the variable.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

from mhc_pipeline.defs import source_names
from mhc_pipeline.setting import Setting

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class SettingError(RuntimeError):
    """A setting the command cannot run with: the message names it and the fix."""


class MissingCredential(SettingError):
    """A real source was configured without the credential it needs."""


class SimulatorDefault(SettingError):
    """A production deployment left a source URL at its default, the bundled simulator."""


CORE: list[Setting] = [
    Setting(
        "MHC_DATABASE_URL",
        "embedded",
        "PostgreSQL URL (postgresql://user:pass@host:5432/db). `embedded` = the embedded PostgreSQL 18 "
        "under MHC_DATA_DIR, started on demand and reused by later commands.",
    ),
    Setting("MHC_DATA_DIR", str(PROJECT_ROOT / ".mhc"), "Folder for the embedded database, Dagster home and logs."),
    Setting("MHC_PRODUCT_SCHEMA", "mhc", "Schema of the product tables the MHC Control Panel reads."),
    Setting("MHC_RAW_SCHEMA", "raw", "Schema of the raw landing tables (written only by the loader)."),
    Setting("MHC_ENV", "development",
            "`development` (the defaults run everything against the bundled simulator) or `production`: then, "
            "as with any MHC_DATABASE_URL other than `embedded`, a source URL left at its simulator default "
            "stops every command and the code location at start-up, naming the setting."),
    Setting("MHC_OWNER", "hudson_cage", "The owner's (broadcaster's) username."),
    Setting("MHC_SIMULATOR_PORT", "8765", "Port of the bundled source simulator on 127.0.0.1."),
    Setting("MHC_SIMULATOR_ROOMS", "200", "Number of rooms in the simulator's world."),
    Setting("MHC_SIMULATOR_SEED", "1", "Seed of the simulator's world."),
]
# shared by every HTTP source and by dbt, after the sources' own settings
CORE_TAIL: list[Setting] = [
    Setting("MHC_DBT_KEEP_RUNS", "5",
            "dbt artifact folders kept under MHC_DATA_DIR/dbt_runs (one per dbt build: manifest, run results, "
            "logs, ~24 MB each); older ones are deleted after each build."),
    Setting("MHC_DBT_WORKER", "on",
            "`on`: `mhc dev` keeps dbt loaded in one long-lived worker process that runs the runs' dbt builds "
            "with the parsed project in memory (~5 CPU-s less per build); `off`: every build starts its own dbt."),
    Setting("MHC_ALERT_WEBHOOK_URL", "",
            "Webhook (Slack-compatible JSON) that failed runs and checks failed at ERROR severity are posted to, "
            "naming the source, the cause and the fix; unset: failures show in the Dagster UI only. Its token "
            "is never logged.", kind="secret"),
    Setting("MHC_HTTP_TIMEOUT", "30", "Read timeout of one HTTP request, seconds."),
    Setting("MHC_HTTP_RETRIES", "5", "Retries of one HTTP request on 429/5xx/timeouts (exponential backoff)."),
]
# the table: the core settings, each source's own (mhc_pipeline/defs/<source>/settings.py), the shared tail
SETTINGS: list[Setting] = [
    *CORE,
    *(row for name in source_names()
      for row in importlib.import_module(f"mhc_pipeline.defs.{name}.settings").SETTINGS),
    *CORE_TAIL,
]

BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, env: MutableMapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = env.get(name)
    if value is None or value == "":
        return BY_NAME[name].default_for(env)
    return value


def is_simulated(url: str) -> bool:
    return (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def _url_of(source: str, env: MutableMapping[str, str]) -> str:
    return get(f"MHC_{source.upper()}_URL", env)


def dotenv_values(path: Path | None = None) -> dict[str, str]:
    """The settings written in `.env` (project root), as KEY=value lines; {} when there is none."""
    path = path or PROJECT_ROOT / ".env"
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def load_dotenv(path: Path | None = None) -> None:
    """Read `.env` from the project root into the environment (never overriding what is set)."""
    for key, value in dotenv_values(path).items():
        os.environ.setdefault(key, value)


def is_production(env: MutableMapping[str, str] | None = None) -> bool:
    """MHC_ENV=production, or a database that is not the embedded one: a deployment, not a demo."""
    env = os.environ if env is None else env
    return get("MHC_ENV", env).strip().lower() == "production" or get("MHC_DATABASE_URL", env) != "embedded"


def source_url_settings() -> list[Setting]:
    """The settings of the sources' endpoints (each defaults to its path on the bundled simulator)."""
    return [s for s in SETTINGS if s.name.endswith("_URL") and callable(s.default)]


def check_deployment(env: MutableMapping[str, str] | None = None) -> None:
    """In production (is_production()), every source URL must be set: one left unset would reach for the
    simulator on 127.0.0.1 and fail at run time with "connection refused". Raises `SimulatorDefault`
    naming each. A URL set to the simulator on purpose (a test, a rehearsal) is the operator's choice."""
    env = os.environ if env is None else env
    if not is_production(env):
        return
    unset = [s for s in source_url_settings() if not env.get(s.name)]
    if unset:
        why = ("MHC_ENV=production" if get("MHC_ENV", env).strip().lower() == "production"
               else "MHC_DATABASE_URL is not `embedded`")
        raise SimulatorDefault(
            f"{', '.join(s.name for s in unset)} {'is' if len(unset) == 1 else 'are'} not set, and in production "
            f"({why}) a source URL may not default to the bundled simulator ({unset[0].default_for(env)}). Set "
            + "; ".join(f"{s.name}={s.real}" for s in unset)
            + " (in the environment or .env; `mhc doctor` lists every setting), or MHC_ENV=development and "
            "MHC_DATABASE_URL=embedded for the simulator")


def prepare_env(env: MutableMapping[str, str] | None = None, *, check: bool = True) -> MutableMapping[str, str]:
    """Fill every unset setting with its default (credentials: the simulator's, in simulator mode).

    With `check`, a production deployment with a source URL at its simulator default raises
    `SimulatorDefault` (check_deployment()), and a credential missing for a real source raises
    `MissingCredential`, each naming the setting.
    """
    env = os.environ if env is None else env
    if check:
        check_deployment(env)
    missing = []
    for s in SETTINGS:
        if env.get(s.name):
            continue
        if s.kind in ("credential", "secret"):
            if s.source is None:  # an optional secret of the pipeline's own (the alert webhook): unset is off
                continue
            if is_simulated(_url_of(s.source, env)):
                env[s.name] = s.sim_value
            else:
                missing.append(s)
        else:
            env[s.name] = s.default_for(env)
    if missing and check:
        raise MissingCredential(
            "; ".join(
                f"{s.name} is not set: the real {s.source} source at {_url_of(s.source, env)} needs it "
                f"({s.description}). Set it in the environment or in .env (see .env.example)"
                for s in missing
            )
        )
    for s in missing:  # not checked: let Dagster's EnvVar name it when a run needs it
        env.pop(s.name, None)
    return env


def data_dir() -> Path:
    path = Path(get("MHC_DATA_DIR"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_example() -> str:
    """The text of `.env.example`, generated from SETTINGS (a test keeps the file in sync)."""
    lines = [
        "# mhc-pipeline settings. Copy to .env and edit. Every value shown is the default;",
        "# with no .env at all everything runs against the embedded PostgreSQL and the simulator.",
        "",
    ]
    for s in SETTINGS:
        lines.append(f"# {s.description}")
        if s.real:
            lines.append(f"#   real service: {s.real}")
        default = s.default_for({}) if s.name != "MHC_DATA_DIR" else "./.mhc"
        if s.kind in ("credential", "secret") and s.source is None:
            lines.append(f"#   {s.kind}, optional")
            lines.append(f"# {s.name}=")
        elif s.kind in ("credential", "secret"):
            lines.append(f"#   {s.kind} of the {s.source} source; simulator value: {s.sim_value}")
            lines.append(f"# {s.name}=")
        else:
            lines.append(f"# {s.name}={default}")
        lines.append("")
    return "\n".join(lines)
