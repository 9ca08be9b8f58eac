"""A `command` coder line that runs Python with this checkout's packages importable,
in a form the local executor's sandbox uid can execute.

The sandbox (prazium_operator.sandbox) runs commands as a uid of their own with PATH only
(/usr/local/bin:/usr/bin:/bin): the test runner's interpreter may live where that uid
cannot go (a private home), so the line runs the system's python3 and adds this
virtualenv's site-packages (world-readable, same Python version) to its path. In a
worker Pod the image's python3 has the packages already; the extra path is harmless.
"""

from __future__ import annotations

import shlex
import sysconfig

SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def python_line(code: str) -> str:
    prelude = f"import site\nsite.addsitedir({SITE_PACKAGES!r})\n"
    return f"exec python3 -c {shlex.quote(prelude + code)}"
