"""Stock Vision: one-month-ahead price targets and patterns for Vietnamese stocks."""

__version__ = "0.1.0"
