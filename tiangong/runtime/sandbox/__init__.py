"""The code sandbox: user code under bubblewrap, never outside it.

    runner = SandboxRunner()
    result = await runner.run("python", "def main(x):\n    return x * 2", inputs={"x": 21})
    assert result.ok and result.result == 42

`SandboxRunner` implements `tiangong.runtime.tools.context.CodeRunner`. See `runner.py` for
the isolation and limits, `harness.py` for the code protocol, `bwrap.py` for the command line.
"""

from __future__ import annotations

from tiangong.runtime.sandbox.bwrap import (
    SANDBOX_GID,
    SANDBOX_UID,
    Bind,
    BwrapFeatures,
    SandboxSpec,
    build_command,
)
from tiangong.runtime.sandbox.errors import SandboxUnavailable, UnsupportedLanguage
from tiangong.runtime.sandbox.runner import LANGUAGE_ALIASES, SandboxRunner

__all__ = [
    "LANGUAGE_ALIASES",
    "SANDBOX_GID",
    "SANDBOX_UID",
    "Bind",
    "BwrapFeatures",
    "SandboxRunner",
    "SandboxSpec",
    "SandboxUnavailable",
    "UnsupportedLanguage",
    "build_command",
]
