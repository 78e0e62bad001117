"""Helpers shared by the serving tests (a uniquely named module, so imports are unambiguous)."""

from __future__ import annotations

from live_server import free_port

API_KEY = "test-admin-key"

__all__ = ["API_KEY", "free_port"]
