"""Provides `python -m webcare_tui`."""

from webcare_tui.cli import main

raise SystemExit(main())
