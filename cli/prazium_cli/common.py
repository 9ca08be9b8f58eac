"""What every command shares: the --output and --config options, the positional
arguments that may be left out, the API client made from the config, and turning
a CliError into its output and exit code."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from prazium_cli import config
from prazium_cli.client import Api
from prazium_cli.errors import CliError
from prazium_cli.output import Format, fail

Output = Annotated[
    Format,
    typer.Option(
        "--output",
        "-o",
        help="text for people, wide: text with more columns;"
        " json or yaml: one stable document on stdout",
        case_sensitive=False,
    ),
]
ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="config file (default $PRAZIUM_CONFIG or ~/.config/prazium/config.json)",
        dir_okay=False,
    ),
]
# Arguments that may be left out: they are sorted out by their ids' prefixes
# (targets.place), so `prazium run logs api-orders` means the current project's
# latest run and its task api-orders.
Project = Annotated[
    str | None,
    typer.Argument(
        metavar="PROJECT",
        help="project id (proj_...); default: the current project (`prazium projects use`)",
        show_default=False,
    ),
]
Run = Annotated[
    str | None,
    typer.Argument(
        metavar="RUN", help="run id (run_...); default: the latest run", show_default=False
    ),
]


def api(config_path: Path | None, timeout: float = 60.0, need_key: bool = True) -> Api:
    return Api(load_config(config_path), timeout=timeout, need_key=need_key)


def load_config(config_path: Path | None) -> config.Config:
    try:
        return config.load(config_path)
    except ValueError as exc:
        raise CliError("VALIDATION_ERROR", str(exc)) from exc


@contextlib.contextmanager
def handling(fmt: Format) -> Iterator[None]:
    """Any CliError inside: printed (text or the error envelope) and exit with its code."""
    try:
        yield
    except CliError as error:
        fail(fmt, error)
        raise typer.Exit(error.exit_code) from None
