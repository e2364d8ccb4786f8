"""Provides the console's screens: inbox, case and the small prompts they use."""
