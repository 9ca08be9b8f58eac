"""Source code of the app the template agent generates, rendered from the spec documents."""

from prazium_appgen.app.render import AppModel, app_model, render_app

__all__ = ["AppModel", "app_model", "render_app"]
