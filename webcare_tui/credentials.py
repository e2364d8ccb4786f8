"""Provides account secrets from the system keyring (service `webcare-tui`).

`WEBCARE_TOKEN_<NAME>` in the environment overrides the keyring for headless use.
Secrets are returned to the connector and go nowhere else: not to logs, files or
the database.
"""

from __future__ import annotations

import os
import re

import keyring
import keyring.errors

SERVICE = "webcare-tui"


class CredentialsError(RuntimeError):
    """No secret could be read; the message says how to fix it."""


def env_name(account: str) -> str:
    return "WEBCARE_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", account.upper())


def get_secret(account: str) -> str | None:
    """The account's token, or None when none is stored."""
    if value := os.environ.get(env_name(account)):
        return value
    try:
        return keyring.get_password(SERVICE, account)
    except keyring.errors.KeyringError as error:
        raise CredentialsError(
            f"cannot read the token of account {account!r}: no usable keyring ({type(error).__name__})."
            f" Install a backend (pip install keyrings.alt) or set {env_name(account)} for headless use."
        ) from None


def _no_backend(account: str, error: Exception) -> CredentialsError:
    return CredentialsError(
        f"cannot store the token of account {account!r}: this machine has no usable keyring"
        f" ({type(error).__name__}). Install a backend (pip install keyrings.alt) or, for headless use,"
        f" set {env_name(account)} in the environment instead."
    )


def set_secret(account: str, secret: str) -> None:
    """Keep the account's token in the keyring.

    Raises:
        CredentialsError: no keyring backend; the message says how to fix it.
    """
    try:
        keyring.set_password(SERVICE, account, secret)
    except keyring.errors.KeyringError as error:
        raise _no_backend(account, error) from None


def delete_secret(account: str) -> bool:
    """Remove the account's token from the keyring; returns whether there was one."""
    try:
        keyring.delete_password(SERVICE, account)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as error:
        raise _no_backend(account, error) from None
    return True


def secret_source(account: str) -> str | None:
    """Where the account's token comes from: "environment", "keyring" or None (missing)."""
    if os.environ.get(env_name(account)):
        return "environment"
    try:
        return "keyring" if keyring.get_password(SERVICE, account) else None
    except keyring.errors.KeyringError:
        return None
