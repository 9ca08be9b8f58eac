"""kopf handlers; importing this package registers them."""

from prazium_operator.handlers import lifecycle, project, run  # noqa: F401
