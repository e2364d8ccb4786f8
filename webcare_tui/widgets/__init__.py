"""Provides the console's own widgets."""
