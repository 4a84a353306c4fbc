"""`mhc env-example`: print .env.example, every setting with its default and meaning."""

from __future__ import annotations

import click

from mhc_pipeline import settings


@click.command("env-example", short_help="Print the .env.example text.")
def command() -> int:
    """Print the .env.example text: every setting with its default and what it means (secrets empty)."""
    print(settings.env_example())
    return 0
