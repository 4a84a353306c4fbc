"""One row of the settings table (mhc_pipeline.settings.SETTINGS). A leaf module: each source's folder
declares its own rows with it (mhc_pipeline/defs/<source>/settings.py) without importing the table."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass


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


def simulator_url(path: str) -> Callable[[MutableMapping[str, str]], str]:
    """The default of a source's URL setting: `path` on the bundled simulator (MHC_SIMULATOR_PORT)."""

    def default(env: MutableMapping[str, str]) -> str:
        port = env.get("MHC_SIMULATOR_PORT") or "8765"
        return f"http://127.0.0.1:{port}{path}"

    return default
