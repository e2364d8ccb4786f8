"""Provides `StoreError`: what the store says when it cannot do what was asked."""


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why in plain words."""
