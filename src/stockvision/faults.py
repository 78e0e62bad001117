"""Named crash points for the fault-tolerance tests.

A process started with ``SV_CRASH_AT=<name>`` kills itself with SIGKILL when it reaches the point of
that name: no ``finally``, no flush, no cleanup, as the OOM killer or a power cut would. The tests then
check that what the process left behind (store, registry, files) is consistent. Without the variable
a crash point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Die here if ``SV_CRASH_AT`` names this point."""
    if os.environ.get("SV_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
