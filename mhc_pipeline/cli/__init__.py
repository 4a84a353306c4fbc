"""`mhc`: the command line of mhc-pipeline, a click group with one thin module per command.

The commands share `mhc_pipeline.runtime` (database, Dagster home, simulator), `mhc_pipeline.runner`
(a job in process, its progress and summary) and `mhc_pipeline.report` (the current state); `mhc dev`
is `mhc_pipeline.devserver`. `mhc --help` lists the commands as the README's table of commands does.

`main(argv)` returns the exit code: 0 done, 1 failed, 2 a usage error or a setting or database that is
not there (one line naming it and the fix), 3 the database went away during the command, 130 interrupted.
"""

from __future__ import annotations

import logging
import sys

import click

from mhc_pipeline import db, settings
from mhc_pipeline.cli import (
    backfill,
    build,
    database,
    demo,
    dev,
    docs,
    doctor,
    env_example,
    events,
    follows,
    land,
    legacy,
    simulate,
    statbate,
)
from mhc_pipeline.http import RedactingFilter

log = logging.getLogger("mhc")


def _setup(verbose: bool = False) -> None:
    import warnings

    # Dagster flags beta parameters (backfill_policy) at import; not news to an operator
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
        handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # Dagster's storage retries a lost database (a warning each): the command says it once
        logging.getLogger().addFilter(lambda r: not r.getMessage().startswith("Retrying failed database connection"))
    settings.load_dotenv()


class _Mhc(click.Group):
    """The commands in the order of the README's table; a failure the operator can act on is one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (settings.SettingError, db.Unreachable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            print(f"mhc {ctx.invoked_subcommand}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            reason = db.went_away(exc)
            if reason is None:
                raise
            # one line, not Dagster's storage retries and a traceback per layer: every batch lands in one
            # transaction (with its cursor), so nothing is half-landed; the run this command started is
            # marked failed by the next command that starts one (runs.fail_dead_runs), or by `mhc dev`'s daemon
            print(f"error: the database went away during `mhc {ctx.invoked_subcommand}` ({reason[:160]}). Nothing "
                  "was half-landed: every batch lands whole or not at all. Start the database (`mhc db start`, or "
                  "check MHC_DATABASE_URL) and run the command again; it lands what is missing", file=sys.stderr)
            return 3


@click.group(cls=_Mhc, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging (secrets are redacted).")
def mhc(verbose: bool) -> None:
    """mhc-pipeline: ELT for the MHC Control Panel.

    Every command reads its settings from the environment and from .env (see: mhc env-example). The
    database is the embedded PostgreSQL, unless MHC_DATABASE_URL names a server.
    """
    _setup(verbose)


# the order of `mhc --help` and of the README's table of commands
for _module in (demo, dev, simulate, land, build, docs, follows, events, backfill, statbate, legacy, database,
                env_example, doctor):
    mhc.add_command(_module.command)


def main(argv: list[str] | None = None) -> int:
    """Run `mhc` with `argv` (default: the process's arguments); the exit code."""
    try:
        code = mhc.main(args=argv, prog_name="mhc", standalone_mode=False)
    except click.ClickException as exc:  # a usage error: exit 2, as before
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("Aborted!", file=sys.stderr)
        return 1
    return code or 0
