"""What sqlfluff's Jinja templater needs of dbt beyond its dbt builtins (library_path in ../../.sqlfluff):
`var` answers from dbt_project.yml's vars (the source map is a var, and the registry macros loop over it),
`env_var` answers its default (the models read settings such as MHC_CHECKS_SCOPE with one)."""

from pathlib import Path

import yaml

_VARS = yaml.safe_load((Path(__file__).resolve().parents[2] / "dbt_project.yml").read_text())["vars"]


def var(name, default=None):
    return _VARS.get(name, default)


def env_var(name, default=""):
    return default
