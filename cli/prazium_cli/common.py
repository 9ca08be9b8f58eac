"""What every command shares: the --output and --config options, the API client
made from the config, and turning a CliError into its output and exit code."""

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
        help="text for people; json: one stable JSON document on stdout",
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
Project = Annotated[str, typer.Argument(help="project id (proj_...)", show_default=False)]
Run = Annotated[str, typer.Argument(help="run id (run_...)", show_default=False)]


def api(config_path: Path | None, timeout: float = 60.0) -> Api:
    try:
        loaded = config.load(config_path)
    except ValueError as exc:
        raise CliError("VALIDATION_ERROR", str(exc)) from exc
    return Api(loaded, timeout=timeout)


@contextlib.contextmanager
def handling(fmt: Format) -> Iterator[None]:
    """Any CliError inside: printed (text or the JSON envelope) and exit with its code."""
    try:
        yield
    except CliError as error:
        fail(fmt, error)
        raise typer.Exit(error.exit_code) from None
