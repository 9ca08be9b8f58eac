"""The `prazium` command: its sub-commands and their groups."""

import typer

from prazium_cli import about, files, keys, previews, projects, runs, session, spec

app = typer.Typer(
    name="prazium",
    help="Build apps with Prazium from the terminal: projects, specs, runs, code, previews, keys.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.command("login")(session.login)
app.command("logout")(session.logout)
app.command("whoami")(session.whoami)
app.command("version")(about.version)
app.add_typer(projects.app, name="projects")
app.command("answer")(projects.answer)
app.add_typer(spec.app, name="spec")
app.command("regenerate")(projects.regenerate)
app.command("approve")(projects.approve)
app.add_typer(runs.app, name="run")
app.add_typer(files.app, name="files")
app.command("export")(files.export)
app.command("clone")(session.clone)
app.command("deploy")(previews.deploy)
app.add_typer(previews.app, name="previews")
app.add_typer(keys.app, name="keys")
app.command("git-credential", hidden=True)(session.git_credential)


def main() -> None:
    app()
