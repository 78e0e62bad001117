"""Persistent store of market data, features, labels and predictions (SQLite or PostgreSQL)."""

from stockvision.data.store.migrations import SCHEMA_VERSION, SchemaVersionError
from stockvision.data.store.store import Store, UpsertResult, dispose_engine, get_engine
from stockvision.data.store.tables import FEATURE_COLUMNS, LABEL_COLUMNS

__all__ = [
    "FEATURE_COLUMNS",
    "LABEL_COLUMNS",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "Store",
    "UpsertResult",
    "dispose_engine",
    "get_engine",
]
