"""Provides the local SQLite store: the only module that writes SQL."""

from webcare_tui.store.migrations import SCHEMA_VERSION, SchemaTooNew
from webcare_tui.store.store import CASE_FIELDS, AuthorRecord, CaseFilter, IngestRows, Store, StoreError, case_row, event_row

__all__ = ["CASE_FIELDS", "SCHEMA_VERSION", "AuthorRecord", "CaseFilter", "IngestRows", "SchemaTooNew", "Store", "StoreError", "case_row", "event_row"]
