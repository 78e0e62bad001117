"""Helpers shared by the serving tests (a uniquely named module, so imports are unambiguous)."""

from __future__ import annotations

import socket

API_KEY = "test-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
