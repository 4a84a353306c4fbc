"""Every setting of mhc-pipeline, in one table.

Settings are environment variables (a `.env` file in the project root is read too). Every one has a
default that runs the whole pipeline against the embedded PostgreSQL and the bundled simulator, so
nothing needs configuring for a demo. Dagster resources read them through `dg.EnvVar`; `prepare_env()`
fills the defaults into the process environment first, so `EnvVar` always resolves and a secret is
only ever read from the environment.

A source is in *simulator mode* when its URL points at 127.0.0.1/localhost. Then its credentials
default to the simulator's fake ones. Against a real source a missing credential stops the command at
once with an error naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, MutableMapping
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class MissingCredential(RuntimeError):
    """A real source was configured without the credential it needs."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | Callable[[MutableMapping[str, str]], str]
    description: str
    kind: str = "setting"  # setting | credential | secret
    source: str | None = None  # the source a credential belongs to
    real: str = ""  # the value to use against the real service (documentation)
    sim_value: str = ""  # the credential's value in simulator mode

    def default_for(self, env: MutableMapping[str, str]) -> str:
        return self.default(env) if callable(self.default) else self.default


def _sim(path: str) -> Callable[[MutableMapping[str, str]], str]:
    def default(env: MutableMapping[str, str]) -> str:
        port = env.get("MHC_SIMULATOR_PORT") or "8765"
        return f"http://127.0.0.1:{port}{path}"

    return default


SETTINGS: list[Setting] = [
    Setting(
        "MHC_DATABASE_URL",
        "embedded",
        "PostgreSQL URL (postgresql://user:pass@host:5432/db). `embedded` = the embedded PostgreSQL 18 "
        "under MHC_DATA_DIR, started on demand and reused by later commands.",
    ),
    Setting("MHC_DATA_DIR", str(PROJECT_ROOT / ".mhc"), "Folder for the embedded database, Dagster home and logs."),
    Setting("MHC_PRODUCT_SCHEMA", "mhc", "Schema of the product tables the MHC Control Panel reads."),
    Setting("MHC_RAW_SCHEMA", "raw", "Schema of the raw landing tables (written only by the loader)."),
    Setting("MHC_OWNER", "hudson_cage", "The owner's (broadcaster's) username."),
    Setting("MHC_SIMULATOR_PORT", "8765", "Port of the bundled source simulator on 127.0.0.1."),
    Setting("MHC_SIMULATOR_ROOMS", "200", "Number of rooms in the simulator's world."),
    Setting("MHC_SIMULATOR_SEED", "1", "Seed of the simulator's world."),
    Setting(
        "MHC_AFFILIATE_URL",
        _sim("/api/public/affiliates/onlinerooms/"),
        "Affiliate API online-rooms endpoint.",
        real="https://chaturbate.com/api/public/affiliates/onlinerooms/",
    ),
    Setting(
        "MHC_AFFILIATE_WM",
        "",
        "Affiliate campaign slug (`wm`), required by the real Affiliate API.",
        kind="credential",
        source="affiliate",
        sim_value="SIMWM",
    ),
    Setting(
        "MHC_AFFILIATE_CLIENT_IP",
        "request_ip",
        "`client_ip` sent to the Affiliate API (end-user IP, or `request_ip`). Never logged.",
    ),
    Setting("MHC_AFFILIATE_PAGE_SIZE", "500", "Rooms per Affiliate page (the API caps it at 500)."),
    Setting("MHC_AFFILIATE_MAX_PER_MINUTE", "120", "Most Affiliate requests per minute (0 = no limit)."),
    Setting(
        "MHC_CBHOURS_URL",
        _sim("/api.php"),
        "CBHours API endpoint (get_live, get_activity, get_months).",
        real="https://www.cbhours.com/api.php",
    ),
    Setting("MHC_CBHOURS_MAX_PER_MINUTE", "60", "Most CBHours requests per minute, across all processes (1/s)."),
    Setting("MHC_CBHOURS_ERROR300_RECHECK_HOURS", "24",
            "Hours before a model CBHours answered `Error Code:300` (not in its trophy database) is asked again."),
    Setting("MHC_WATCHLIST", "", "Comma-separated usernames always tracked by CBHours (and StatBate)."),
    Setting("MHC_TRACKED_MAX", "300", "Most models tracked (watch list, then following, then the owner's room)."),
    Setting(
        "MHC_EVENTS_URL",
        _sim("/events/"),
        "Events API base URL (the owner's username and the token are appended).",
        real="https://eventsapi.chaturbate.com/events/",
    ),
    Setting(
        "MHC_EVENTS_TOKEN",
        "",
        "Events API token (scope 'Events API', from https://chaturbate.com/statsapi/authtoken/). Secret: it "
        "sits in the URL path and is redacted everywhere.",
        kind="secret",
        source="events",
        sim_value="sim-events-token-0123456789",
    ),
    Setting("MHC_EVENTS_MAX_PER_MINUTE", "1000", "Most Events API requests per minute (the API allows 2000)."),
    Setting(
        "MHC_STATS_URL",
        _sim("/statsapi/"),
        "Chaturbate Stats API endpoint (the owner's own statistics; username and token are query parameters).",
        real="https://chaturbate.com/statsapi/",
    ),
    Setting(
        "MHC_STATS_TOKEN",
        "",
        "Stats API token (24 characters, from https://chaturbate.com/statsapi/authtoken/). Secret: it sits in "
        "the query string and is redacted everywhere.",
        kind="secret",
        source="stats",
        sim_value="sim-stats-token-01234567",
    ),
    Setting("MHC_STATS_MAX_PER_MINUTE", "2",
            "Most Stats API requests per minute, across all processes (the data refreshes every 5 minutes)."),
    Setting("MHC_STATS_BACKOFF_MINUTES", "60",
            "Minutes the Stats API is left alone after it answered `403 Try slowing down a little.`"),
    Setting(
        "MHC_STATBATE_URL",
        _sim("/statbate/api"),
        "StatBate Plus (Premium) API base URL (model and member info and tips).",
        real="https://plus.statbate.com/api",
    ),
    Setting(
        "MHC_STATBATE_TOKEN",
        "",
        "StatBate Plus API token (`<id>|<random>`, created at https://plus.statbate.com/api/tokens; needs a Studio "
        "Plus subscription). Secret: sent as `Authorization: Bearer`, redacted everywhere.",
        kind="secret",
        source="statbate",
        sim_value="1|sim-statbate-token-0123456789abcdef",
    ),
    Setting("MHC_STATBATE_MAX_PER_MINUTE", "120",
            "Most StatBate requests per minute, across all processes (the API allows 120 per account)."),
    Setting("MHC_STATBATE_TIPS_DAYS", "30",
            "Days of tips fetched the first time a person's StatBate tips are asked for (later: since the last tip)."),
    Setting("MHC_STATBATE_MAX_MEMBERS", "500",
            "Most members (people who tipped in the owner's room, most recent first) asked about per daily run."),
    Setting(
        "MHC_FOLLOWS_URL",
        _sim(""),
        "Base URL of the Chaturbate website for the owner's following / followers lists (the followed-rooms "
        "JSON endpoints and the followers page are appended).",
        real="https://chaturbate.com",
    ),
    Setting(
        "MHC_FOLLOWS_SESSIONID",
        "",
        "The owner's Chaturbate `sessionid` cookie (httpOnly: copy it from the browser's Network tab). Secret: "
        "sent only in the Cookie header, redacted everywhere. Not needed for `mhc import-follows`.",
        kind="secret",
        source="follows",
        sim_value="sim-cb-sessionid-0123456789abcdef",
    ),
    Setting(
        "MHC_FOLLOWS_CSRFTOKEN",
        "",
        "The owner's Chaturbate `csrftoken` cookie. Secret: sent only in the Cookie header, redacted everywhere.",
        kind="secret",
        source="follows",
        sim_value="sim-cb-csrftoken-0123456789",
    ),
    Setting("MHC_FOLLOWS_MAX_PER_MINUTE", "20",
            "Most requests per minute to the followed-rooms endpoints (internal website endpoints: go slow)."),
    Setting("MHC_LEGACY_DATABASE_URL", "",
            "URL of the legacy MHC Control Panel database (postgresql://user:pass@host:5432/db) that "
            "`mhc import-legacy` and the `legacy_import` job read, read-only. Its password is redacted everywhere."),
    Setting("MHC_LEGACY_TIMEZONE", "America/New_York",
            "Zone the legacy `timestamp without time zone` columns were written in (its containers ran with "
            "TZ=America/New_York); the import converts them to UTC. Not `cbhours_activity.timestamp`: the "
            "original asked CBHours for UTC and stored its string as it came, so it is read as UTC."),
    Setting("MHC_LEGACY_OVERLAP_MINUTES", "120",
            "How far behind each table's high-water mark `mhc import-legacy` reads again, in minutes: legacy rows "
            "committed late (a time below the mark) and the repeated hour of a DST change. Rows read again that "
            "are held unchanged are skipped, so a wider window costs reading, never a double."),
    Setting("MHC_DBT_KEEP_RUNS", "5",
            "dbt artifact folders kept under MHC_DATA_DIR/dbt_runs (one per dbt build: manifest, run results, "
            "logs, ~24 MB each); older ones are deleted after each build."),
    Setting("MHC_HTTP_TIMEOUT", "30", "Read timeout of one HTTP request, seconds."),
    Setting("MHC_HTTP_RETRIES", "5", "Retries of one HTTP request on 429/5xx/timeouts (exponential backoff)."),
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


def load_dotenv(path: Path | None = None) -> None:
    """Read `.env` from the project root into the environment (never overriding what is set)."""
    path = path or PROJECT_ROOT / ".env"
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip().strip('"').strip("'")
        os.environ.setdefault(key, value)


def prepare_env(env: MutableMapping[str, str] | None = None, *, check: bool = True) -> MutableMapping[str, str]:
    """Fill every unset setting with its default (credentials: the simulator's, in simulator mode).

    With `check`, a credential missing for a real source raises `MissingCredential` naming it.
    """
    env = os.environ if env is None else env
    missing = []
    for s in SETTINGS:
        if env.get(s.name):
            continue
        if s.kind in ("credential", "secret"):
            if s.source and is_simulated(_url_of(s.source, env)):
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
        if s.kind in ("credential", "secret"):
            lines.append(f"#   {s.kind} of the {s.source} source; simulator value: {s.sim_value}")
            lines.append(f"# {s.name}=")
        else:
            lines.append(f"# {s.name}={default}")
        lines.append("")
    return "\n".join(lines)
