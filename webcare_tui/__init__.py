"""webcare-tui: a keyboard-first, offline-capable terminal console for webcare agents."""

__version__ = "0.1.0"
