"""Provides who may see the wall: its password (environment or keyring), the checks of HTTP Basic and
of the signed session cookie against it, and a per-client limit on wrong passwords.

The password never comes from the config file or the command line (where `ps` and shell history
would show it): `WEBCARE_WALL_PASSWORD` for a service, else the keyring entry that
`webcare wall --set-password` keeps under the app's keyring service (`credentials.SERVICE`).

The session cookie is signed with a key derived from the password (scrypt), not with a random
key per process: a TV stays signed in across a restart of the server, and changing the password
signs every browser out.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import ipaddress
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webcare_tui.credentials import SERVICE, NoKeyring, keep_secret, overridden_note, read_secret, typed_twice

PASSWORD_ENV = "WEBCARE_WALL_PASSWORD"
KEYRING_USER = "wall:password"  # beside the accounts' tokens in SERVICE; no account is named so
MIN_LENGTH = 8
HOW_TO_SET = (f"run `webcare wall --set-password` to keep one in the keyring, or set {PASSWORD_ENV} in the "
              "environment of the server (for a service without a keyring)")


class WallPasswordError(RuntimeError):
    """No usable password: the message says in plain words how to set one."""


def _checked(password: str, where: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WallPasswordError(f"the wall's password ({where}) is shorter than {MIN_LENGTH} characters: "
                                f"give a longer one; {HOW_TO_SET}")
    return password


def load_password() -> str:
    """The wall's password: `WEBCARE_WALL_PASSWORD`, else the keyring's.

    Raises:
        WallPasswordError: none is set (or it is too short, or the keyring cannot be read).
    """
    try:
        stored = read_secret(KEYRING_USER, PASSWORD_ENV)
    except NoKeyring as error:
        raise WallPasswordError(f"the wall needs a password and this machine has no usable keyring to read one "
                                f"from ({error}): set {PASSWORD_ENV} in the environment of the "
                                "server, or install a keyring backend (pip install keyrings.alt) and run "
                                "`webcare wall --set-password`") from None
    if not stored:
        raise WallPasswordError(f"the wall needs a password and none is set: {HOW_TO_SET}")
    return _checked(stored, PASSWORD_ENV if os.environ.get(PASSWORD_ENV) else "from the keyring")


def set_password(out: TextIO, ask: Callable[[str], str] | None = None) -> None:
    """Ask for the password twice (hidden input) and keep it in the keyring.

    Raises:
        WallPasswordError: the two differ, it is too short, or there is no keyring.
    """
    ask = ask or getpass.getpass  # hidden input; looked up now, so a test can stand in for it
    first = typed_twice(ask, "wall password: ")
    if first is None:
        raise WallPasswordError("the two passwords differ; nothing was stored")
    _checked(first, "typed")
    try:
        keep_secret(KEYRING_USER, first)
    except NoKeyring as error:
        raise WallPasswordError(f"cannot store the password: this machine has no usable keyring "
                                f"({error}). Install a backend (pip install keyrings.alt) or set "
                                f"{PASSWORD_ENV} in the environment of the server instead") from None
    print(f"stored the wall's password in the keyring ({SERVICE} / {KEYRING_USER}); browsers signed in with "
          "the old one are signed out", file=out)
    if note := overridden_note(PASSWORD_ENV):
        print(note, file=out)


def digest(text: str) -> bytes:
    """A fixed-length digest of `text`, to compare secrets in constant time whatever their lengths."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class Password:
    """The one password, compared in constant time (digests of equal length: not even its length leaks)."""

    def __init__(self, password: str) -> None:
        self._digest = digest(password)
        # sessions survive a restart and end with the password: the cookie key comes from it (slowly, so a
        # stolen cookie is no quick way to guess the password)
        key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=b"webcare-tui wall session",
                             n=2**14, r=8, p=1, dklen=32)
        self._cookies = URLSafeTimedSerializer(key, salt="webcare-wall-session")

    def matches(self, given: str) -> bool:
        return hmac.compare_digest(digest(given), self._digest)

    def basic(self, header: str | None) -> bool | None:
        """An `Authorization: Basic` header: None when there is none (or another scheme), else whether its
        password is right (any user name: `curl -u wall:PASSWORD`)."""
        if not header or not header[:6].lower() == "basic ":
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, colon, given = decoded.partition(":")
        return bool(colon) and self.matches(given)

    def session(self) -> str:
        """A new signed session cookie value."""
        return self._cookies.dumps({"wall": 1})

    def session_age(self, value: str | None, max_age: int) -> float | None:
        """How old a valid session cookie is (seconds); None when missing, forged or expired."""
        if not value:
            return None
        try:
            _, signed_at = self._cookies.loads(value, max_age=max_age, return_timestamp=True)
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return None
        return max(0.0, time.time() - signed_at.timestamp())


def client_key(host: str | None) -> str:
    """Whose guesses these are: the client's address; IPv6 by its /64 (one host usually has a whole one)."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and not address.ipv4_mapped:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


class Guesses:
    """Wrong passwords per client: after `limit` within `window` seconds, no more tries until the
    oldest of them is `window` old. Bounded: at most `clients` clients are remembered."""

    def __init__(self, limit: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 clients: int = 10_000) -> None:
        self.limit, self.window, self.clock, self.clients = limit, window, clock, clients
        self._failed: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failed.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            self._failed.pop(key, None)
        return times

    def wait(self, key: str) -> int:
        """Seconds until `key` may try a password again; 0: now."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[-self.limit] + self.window - now))

    def failed(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if key not in self._failed and len(self._failed) >= self.clients:
                for old in list(self._failed):
                    self._recent(old, now)  # forgets clients with no recent guess
                if len(self._failed) >= self.clients:  # still full: forget the client guessed longest ago
                    del self._failed[min(self._failed, key=lambda k: self._failed[k][-1])]
            times.append(now)
            self._failed[key] = times

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failed.pop(key, None)
