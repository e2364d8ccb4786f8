"""Provides `python -m webcare_tui`."""

from webcare_tui.cli import main

if __name__ == "__main__":  # guarded: bulk import's writer process re-imports this module
    raise SystemExit(main())
