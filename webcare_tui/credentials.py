"""Provides secrets from the system keyring (service `webcare-tui`): the accounts' tokens, and
through `read_secret`/`keep_secret` any other (the wall's password).

An environment variable overrides the keyring for headless use (`WEBCARE_TOKEN_<NAME>` for an
account). Secrets are returned to whoever asked and go nowhere else: not to logs, files or
the database.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Callable

import keyring
import keyring.errors

SERVICE = "webcare-tui"


class CredentialsError(RuntimeError):
    """No secret could be read; the message says how to fix it."""


class NoKeyring(RuntimeError):
    """This machine has no usable keyring backend; the message names the keyring's error."""


def read_secret(key: str, env: str) -> str | None:
    """The secret `key`: the environment variable `env` if set, else the keyring's; None when neither has it.

    Raises:
        NoKeyring: the keyring cannot be read (and `env` is not set).
    """
    if value := os.environ.get(env):
        return value
    try:
        return keyring.get_password(SERVICE, key)
    except keyring.errors.KeyringError as error:
        raise NoKeyring(type(error).__name__) from None


def typed_twice(ask: Callable[[str], str], prompt: str, *, strip: bool = False) -> str | None:
    """A secret typed twice (`ask`: hidden input), compared in constant time; None when the two differ.
    `strip`: blanks around it are no part of it (a pasted key)."""
    first, again = ask(prompt), ask("the same again: ")
    if strip:
        first, again = first.strip(), again.strip()
    return first if hmac.compare_digest(first.encode(), again.encode()) else None


def overridden_note(env: str) -> str | None:
    """What to tell someone who just kept a secret in the keyring while `env` overrides it."""
    return f"note: {env} is set in this environment and is used instead while it is" if os.environ.get(env) else None


def keep_secret(key: str, secret: str) -> None:
    """Keep the secret `key` in the keyring.

    Raises:
        NoKeyring: there is no keyring to keep it in.
    """
    try:
        keyring.set_password(SERVICE, key, secret)
    except keyring.errors.KeyringError as error:
        raise NoKeyring(type(error).__name__) from None


def env_name(account: str) -> str:
    return "WEBCARE_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", account.upper())


def get_secret(account: str) -> str | None:
    """The account's token, or None when none is stored."""
    try:
        return read_secret(account, env_name(account))
    except NoKeyring as error:
        raise CredentialsError(
            f"cannot read the token of account {account!r}: no usable keyring ({error})."
            f" Install a backend (pip install keyrings.alt) or set {env_name(account)} for headless use."
        ) from None


def _no_backend(account: str, error: Exception) -> CredentialsError:
    return CredentialsError(
        f"cannot store the token of account {account!r}: this machine has no usable keyring"
        f" ({error}). Install a backend (pip install keyrings.alt) or, for headless use,"
        f" set {env_name(account)} in the environment instead."
    )


def set_secret(account: str, secret: str) -> None:
    """Keep the account's token in the keyring.

    Raises:
        CredentialsError: no keyring backend; the message says how to fix it.
    """
    try:
        keep_secret(account, secret)
    except NoKeyring as error:
        raise _no_backend(account, error) from None


def delete_secret(account: str) -> bool:
    """Remove the account's token from the keyring; returns whether there was one."""
    try:
        keyring.delete_password(SERVICE, account)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as error:
        raise _no_backend(account, NoKeyring(type(error).__name__)) from None
    return True


def secret_source(account: str) -> str | None:
    """Where the account's token comes from: "environment", "keyring" or None (missing)."""
    if os.environ.get(env_name(account)):
        return "environment"
    try:
        return "keyring" if read_secret(account, env_name(account)) else None
    except NoKeyring:
        return None
