"""Provides the local SQLite store: the only module that writes SQL."""

from webcare_tui.store.errors import StoreFailure, store_trouble
from webcare_tui.store.migrations import SCHEMA_VERSION, SchemaTooNew
from webcare_tui.store.store import (
    CASE_FIELDS,
    AuthorRecord,
    CaseFilter,
    IngestRows,
    Store,
    StoreError,
    case_row,
    changed_columns,
    event_row,
)

__all__ = ["CASE_FIELDS", "SCHEMA_VERSION", "AuthorRecord", "CaseFilter", "IngestRows", "SchemaTooNew", "Store", "StoreError", "StoreFailure", "case_row", "changed_columns", "event_row", "store_trouble"]
