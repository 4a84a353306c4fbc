"""What an `mhc` command runs on: the database, the Dagster home, the simulator and the ports it listens on.

- `ensure_database()` starts or reuses the database (embedded, or the server of MHC_DATABASE_URL) and
  exports its URL, so Dagster's EnvVar and dbt see it;
- `dagster_home()` is a persistent DAGSTER_HOME under the data folder, its `dagster.yaml` copied from the
  committed template `mhc_pipeline/dagster.yaml`;
- `simulator_in_process()` reuses a simulator that answers on MHC_SIMULATOR_PORT, or runs one meanwhile;
- `port_in_use()` / `port_taken_message()` for the commands that serve (`mhc dev`, `mhc docs`).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from mhc_pipeline import db, settings

DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")  # the instance config, copied into DAGSTER_HOME

_EMBEDDED: list[bool] = []


def ensure_database() -> str:
    """Start/reuse the database and export its URL so Dagster's EnvVar and dbt see it."""
    if not _EMBEDDED:
        _EMBEDDED.append(settings.get("MHC_DATABASE_URL") == "embedded")
    url = db.database_url()
    if not _EMBEDDED[0]:
        db.check_reachable(url)  # an external server: say at once, in one line, when it cannot be reached
    os.environ["MHC_DATABASE_URL"] = url
    db.export_libpq_env(url)
    return url


def dagster_home() -> Path:
    """A persistent DAGSTER_HOME under the data folder; Dagster's runs, events and schedules live in the
    same PostgreSQL (its own database `dagster` on the embedded server, else the pipeline's database)."""
    home = settings.data_dir() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(os.environ["MHC_DATABASE_URL"])
    if _EMBEDDED and _EMBEDDED[0]:
        db._ensure_database(parts._replace(path="/postgres").geturl(), "dagster")
        parts = parts._replace(path="/dagster")
    os.environ["MHC_DAGSTER_PG_URL"] = parts._replace(scheme="postgresql+psycopg2").geturl()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def simulator_running(port: str) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=0.5).ok
    except requests.RequestException:
        return False


def uses_simulator(names: tuple[str, ...] | None = None) -> bool:
    """Whether a source URL (any, or those `names`) points at the bundled simulator: 127.0.0.1 on
    MHC_SIMULATOR_PORT (a URL on another local port is someone else's server, not ours to start)."""
    port = int(settings.get("MHC_SIMULATOR_PORT"))
    names = names or tuple(s.name for s in settings.SETTINGS
                           if s.name.endswith("_URL") and s.name != "MHC_DATABASE_URL")
    for name in names:
        url = settings.get(name)
        if settings.is_simulated(url) and (urlsplit(url).port or 80) == port:
            return True
    return False


@contextmanager
def simulator_in_process(sources: tuple[str, ...] | None = None,
                         prepare: Callable[..., str] | None = None) -> Iterator[str]:
    """Reuse a simulator answering on MHC_SIMULATOR_PORT, or run one in this process meanwhile.

    `prepare(sim)` sets up the world of a simulator started here before it serves (the demo's), and
    returns a note for the line that reports it."""
    port = settings.get("MHC_SIMULATOR_PORT")
    if not uses_simulator(sources) or simulator_running(port):
        yield "reused" if uses_simulator(sources) else "not used (real sources)"
        return
    from mhc_pipeline.simulator import Simulator

    sim = Simulator(rooms=int(settings.get("MHC_SIMULATOR_ROOMS")), seed=int(settings.get("MHC_SIMULATOR_SEED")),
                    port=int(port), events_token=settings.get("MHC_EVENTS_TOKEN"))
    note = prepare(sim) if prepare is not None else ""
    sim.start()
    try:
        yield f"started in-process ({settings.get('MHC_SIMULATOR_ROOMS')} rooms, {sim.url}{note})"
    finally:
        sim.stop()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def port_taken_message(what: str, host: str, port: int) -> str:
    return (f"port {port} on {host} is already in use, so {what} cannot listen there. Another `mhc dev` or "
            f"`mhc docs` may still be running (`ss -ltnp 'sport = :{port}'` shows which process); stop it, or "
            f"choose another port: `mhc {what.split()[0]} --port {port + 1}`.")
