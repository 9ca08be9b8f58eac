"""The `prazium` command: its sub-commands and their groups."""

import typer

from prazium_cli import files, keys, projects, runs, session

app = typer.Typer(
    name="prazium",
    help="Build apps with Prazium from the terminal: projects, specs, runs, code, keys.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.command("login")(session.login)
app.add_typer(projects.app, name="projects")
app.command("answer")(projects.answer)
app.command("approve")(projects.approve)
app.add_typer(runs.app, name="run")
app.add_typer(files.app, name="files")
app.command("export")(files.export)
app.command("clone")(session.clone)
app.add_typer(keys.app, name="keys")
app.command("git-credential", hidden=True)(session.git_credential)


def main() -> None:
    app()
