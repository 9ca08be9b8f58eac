"""kopf handlers; importing this package registers them."""

from prazium_operator.handlers import lifecycle, project  # noqa: F401
