"""Provides the local SQLite store: the only module that writes SQL."""

from webcare_tui.store.migrations import SCHEMA_VERSION, SchemaTooNew
from webcare_tui.store.store import AuthorRecord, CaseFilter, IngestRows, Store, StoreError, case_row, event_row

__all__ = ["SCHEMA_VERSION", "AuthorRecord", "CaseFilter", "IngestRows", "SchemaTooNew", "Store", "StoreError", "case_row", "event_row"]
