"""Provides Meta's webhook receiver on the wall: `/hooks/meta`, Instagram @mentions into the store within seconds.

    GET  /hooks/meta   Meta's verification handshake (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`)
    POST /hooks/meta   a delivery, signed `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body, app secret>`

Meta cannot sign in: these routes are not behind the wall's password; the signature is their
authentication, checked in constant time before anything of the body is parsed. They exist only when
both secrets are set (`webcare wall --set-meta-webhook` keeps them in the keyring; WEBCARE_META_APP_SECRET
and WEBCARE_META_VERIFY_TOKEN for a service); otherwise `/hooks/meta` is a 404.

Of a delivery (`{"object": "instagram", "entry": [{"id": <ig-user-id>, "changes": [{"field": "mentions",
"value": {"media_id": …, "comment_id": …}}]}]}`) only the `mentions` changes of an entry whose `id` is the
`ig_user_id` of a configured `instagram` account count; anything else is ignored. Each mention not stored
yet is read at once through the account's connector (`InstagramConnector.read_mention`, its Page token from
the keyring as for the sync) and those of one delivery are stored through `ingest` in one transaction: the
console shows them as it shows any other process's writes. The answers:

    200  stored, stored before, gone (deleted, unreadable) or skipped (both logged), or ignored
    503  Graph failed for a while or refused the token, or the store is busy: Meta delivers it again later
         (for hours), and what was stored meanwhile is not read again
    400  a signed body that is not such JSON; 403 a wrong or missing signature; 413 a body over 1 MB

No secret reaches a log line, an answer or the store: Graph's words are logged through the connector's
`redact`, and neither the app secret nor the verify token is ever written anywhere but the keyring.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from webcare_tui.config import Account, Config, ConfigError
from webcare_tui.connectors.base import Connector, ConnectorError
from webcare_tui.connectors.meta import InstagramConnector, Skip, mention_id
from webcare_tui.credentials import (
    SERVICE,
    CredentialsError,
    NoKeyring,
    keep_secret,
    overridden_note,
    read_secret,
    typed_twice,
)
from webcare_tui.ingest import IngestCounts, ingest
from webcare_tui.message_format import check_messages
from webcare_tui.model import Message
from webcare_tui.runtime import build_connectors, router_for
from webcare_tui.store import StoreError, StoreFailure
from webcare_tui.wall.auth import digest

log = logging.getLogger(__name__)

PATH = "/hooks/meta"
APP_SECRET_KEY = "meta:app-secret"  # keyring entries beside the wall's password in SERVICE
VERIFY_TOKEN_KEY = "meta:verify-token"
APP_SECRET_ENV = "WEBCARE_META_APP_SECRET"
VERIFY_TOKEN_ENV = "WEBCARE_META_VERIFY_TOKEN"
MIN_TOKEN = 8  # characters of a verify token
BODY_LIMIT = 1_000_000  # bytes of a delivery
CHALLENGE_LIMIT = 1000  # characters of `hub.challenge` echoed (Meta's is a number)
MAX_MENTIONS = 50  # read in one delivery; with more, 503: Meta sends it again and the stored ones are not read again
TIME_LIMIT = 15.0  # seconds to read a delivery's mentions (Meta gives up on an answer after about 20)
GRAPH_ID = re.compile(r"[0-9]{1,40}")
HOW_TO_SET = (f"run `webcare wall --set-meta-webhook`, or set {APP_SECRET_ENV} and {VERIFY_TOKEN_ENV} in the "
              "environment of the server")


class MetaWebhookError(RuntimeError):
    """The webhook's secrets cannot be used or stored: the message says why in plain words."""


class Malformed(ValueError):
    """A signed delivery that is not what Meta sends: the message says what is wrong (no secret in it)."""


@dataclass(frozen=True)
class MetaSecrets:
    """Meta's app secret (it signs deliveries) and the verify token (the subscription's handshake)."""

    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)


def _read(key: str, env: str) -> str | None:
    try:
        return read_secret(key, env)
    except NoKeyring:  # no keyring: only the environment can hold it
        return None


def load_meta_secrets() -> MetaSecrets | None:
    """Both secrets, each from its environment variable, else the keyring; None when neither is set.

    Raises:
        MetaWebhookError: only one of the two is set.
    """
    secret, token = _read(APP_SECRET_KEY, APP_SECRET_ENV), _read(VERIFY_TOKEN_KEY, VERIFY_TOKEN_ENV)
    if secret and token:
        return MetaSecrets(secret, token)
    if secret or token:
        missing = "verify token" if secret else "app secret"
        raise MetaWebhookError(f"Meta's webhook has no {missing}, so {PATH} is off: {HOW_TO_SET}")
    return None


def set_meta_webhook(out: TextIO, ask: Callable[[str], str] | None = None) -> None:
    """Ask for Meta's app secret and the verify token, each twice (hidden input), and keep them in the keyring.

    Raises:
        MetaWebhookError: one is empty or too short, the two of one differ, or there is no keyring.
    """
    ask = ask or getpass.getpass  # hidden input; looked up now, so a test can stand in for it
    secret = typed_twice(ask, "Meta app secret (the app's dashboard, App settings > Basic): ", strip=True)
    if secret is None:
        raise MetaWebhookError("the two app secrets differ; nothing was stored")
    if not secret:
        raise MetaWebhookError("no app secret given; nothing was stored")
    token = typed_twice(ask, f"verify token (any text of {MIN_TOKEN} characters or more; give Meta the same): ",
                        strip=True)
    if token is None:
        raise MetaWebhookError("the two verify tokens differ; nothing was stored")
    if len(token) < MIN_TOKEN:
        raise MetaWebhookError(f"the verify token is shorter than {MIN_TOKEN} characters; nothing was stored")
    try:
        keep_secret(APP_SECRET_KEY, secret)
        keep_secret(VERIFY_TOKEN_KEY, token)
    except NoKeyring as error:
        raise MetaWebhookError(f"cannot store them: this machine has no usable keyring ({error}). Install a "
                               f"backend (pip install keyrings.alt) or set {APP_SECRET_ENV} and "
                               f"{VERIFY_TOKEN_ENV} in the environment of the server instead") from None
    print(f"stored Meta's app secret and verify token in the keyring ({SERVICE} / {APP_SECRET_KEY}, "
          f"{VERIFY_TOKEN_KEY}); `webcare wall` now answers Meta at https://<your host>{PATH}", file=out)
    for env in (APP_SECRET_ENV, VERIFY_TOKEN_ENV):
        if note := overridden_note(env):
            print(note, file=out)


def _graph_id(value: Any) -> str | None:
    """A Graph id as Meta sends one (digits, as text or a number); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and GRAPH_ID.fullmatch(value) else None


@dataclass(frozen=True)
class Mention:
    """One `mentions` change: who was mentioned (our IG user id) and where (a caption, or a comment)."""

    ig_user_id: str
    media_id: str
    comment_id: str | None

    @property
    def external_id(self) -> str:
        return mention_id(self.media_id, self.comment_id)


def mentions_of(payload: Any) -> list[Mention]:
    """The `mentions` changes of a delivery, in order and once each; other objects and fields are none.

    Raises:
        Malformed: it is not shaped as Meta's deliveries are.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("entry", []), list):
        raise Malformed("not a Meta webhook delivery (a JSON object with an `entry` list)")
    if payload.get("object") != "instagram":
        return []
    found: dict[Mention, None] = {}
    for entry in payload.get("entry", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise Malformed("an entry of the delivery is not an object with a `changes` list")
        for change in entry.get("changes", []):
            if not isinstance(change, dict):
                raise Malformed("a change of the delivery is not an object")
            if change.get("field") != "mentions":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                raise Malformed("a `mentions` change has no `value` object")
            owner, media = _graph_id(entry.get("id")), _graph_id(value.get("media_id"))
            comment = _graph_id(value.get("comment_id"))
            if owner is None or media is None or (value.get("comment_id") is not None and comment is None):
                log.warning("webcare wall: an Instagram mention without usable ids (entry id, media_id, "
                            "comment_id) was ignored")
                continue
            found[Mention(owner, media, comment)] = None
    return list(found)


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than `limit` bytes (read no further: a sender cannot
    make us hold more). The wall's sign-in form is read with it too."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _plain(text: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return PlainTextResponse(text + "\n", status, headers=headers)


class MetaHooks:
    """`/hooks/meta`: the handshake, the signature, and the mentions of a delivery into the store."""

    def __init__(self, config: Config, store: Any, secrets: MetaSecrets, clock: Callable[[], float],
                 build: Callable[[Config], Mapping[str, Connector]] = build_connectors) -> None:
        self.config, self.store, self.clock, self.build = config, store, clock, build
        self._app_secret = secrets.app_secret.encode("utf-8", "surrogatepass")
        self._verify_token = digest(secrets.verify_token)
        self.accounts: dict[str, Account] = {}
        for account in config.accounts:
            ig_user_id = _graph_id(account.options.get("ig_user_id"))
            if account.platform == "instagram" and ig_user_id and ig_user_id not in self.accounts:
                self.accounts[ig_user_id] = account
        self.router = router_for(config, store)  # the routing rules, as for the sync and imports
        # the store's work (the look for known mentions, the ingest) on one thread of our own
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webcare-hooks")
        self._connectors: dict[str, InstagramConnector] = {}  # by account name, built when first needed
        self._building = asyncio.Lock()

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()
        self.writer.shutdown(wait=False, cancel_futures=True)

    async def _store(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.writer, function, *args)

    # -- the handshake ---------------------------------------------------------

    async def verify(self, request: Request) -> Response:
        """Meta's subscription check: the challenge back, as text, only to the right verify token."""
        params = request.query_params
        right = hmac.compare_digest(digest(params.get("hub.verify_token", "")), self._verify_token)
        challenge = params.get("hub.challenge", "")
        if not right or params.get("hub.mode") != "subscribe":
            log.warning("webcare wall: a Meta webhook verification with a wrong verify token or mode was refused")
            return _plain("the verify token does not match", 403)
        if not challenge or len(challenge) > CHALLENGE_LIMIT:
            return _plain("hub.challenge is missing or too long", 400)
        return PlainTextResponse(challenge)

    # -- a delivery -----------------------------------------------------------

    def _signed(self, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(self._app_secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(digest(expected), digest(header.strip().lower()))

    async def receive(self, request: Request) -> Response:
        """A delivery: checked, then its mentions read and stored (see the module's answers)."""
        header = request.headers.get("x-hub-signature-256")
        if not header:
            log.warning("webcare wall: a delivery to %s without X-Hub-Signature-256 was refused", PATH)
            return _plain("no valid signature", 403)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > BODY_LIMIT:
            return _plain(f"the body is longer than {BODY_LIMIT} bytes", 413)
        body = await bounded_body(request, BODY_LIMIT)
        if body is None:
            return _plain(f"the body is longer than {BODY_LIMIT} bytes", 413)
        if not self._signed(body, header):
            log.warning("webcare wall: a delivery to %s with a wrong signature was refused (is the app secret "
                        "the one of the app Meta sends for?)", PATH)
            return _plain("no valid signature", 403)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return _plain("the body is not JSON", 400)
        try:
            mentions = mentions_of(payload)
        except Malformed as error:
            return _plain(str(error), 400)
        ours = []
        for mention in mentions:
            if mention.ig_user_id in self.accounts:
                ours.append(mention)
            else:
                log.warning("webcare wall: an Instagram mention of %s was ignored: no configured instagram account"
                            " has that ig_user_id", mention.ig_user_id)
        return await self._take(ours)

    async def _take(self, mentions: list[Mention]) -> Response:
        """Read the mentions not stored yet and store them in one transaction; 503 when any must wait."""
        if not mentions:
            return _plain("ok", 200)
        try:
            known = await self._store(self._known, mentions)
        except (StoreError, *StoreFailure) as error:
            log.error("webcare wall: the store could not be read for a Meta delivery: %s", error)
            return _plain("the store is busy: deliver it again later", 503)
        messages, waiting = await self._read([m for m in mentions if m.external_id not in known])
        if messages:
            kept, refused = check_messages(messages, now=self.clock())
            for reason in refused:
                log.warning("webcare wall: an Instagram mention was not stored: %s", reason)
            try:
                counts: IngestCounts = await self._store(self._ingest, kept)
            except (StoreError, *StoreFailure) as error:
                log.error("webcare wall: Instagram mentions could not be stored: %s", error)
                return _plain("the store is busy: deliver it again later", 503)
            if counts.new_messages:
                log.info("webcare wall: stored %d Instagram mention(s) from Meta's webhook", counts.new_messages)
        if waiting is not None:
            return _plain(f"{waiting}: deliver it again later", 503)
        return _plain("ok", 200)

    def _known(self, mentions: list[Mention]) -> set[str]:
        return set(self.store.existing_message_ids("instagram", [m.external_id for m in mentions]))

    def _ingest(self, messages: list[Message]) -> IngestCounts:
        with self.store.transaction():  # a delivery's mentions land together or not at all
            return ingest(self.store, messages, self.config.threading, router=self.router)

    async def _read(self, mentions: list[Mention]) -> tuple[list[Message], str | None]:
        """The mentions read, in order, until one must wait; and why it must (None: none must)."""
        messages: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIME_LIMIT
        for number, mention in enumerate(mentions):
            if number >= MAX_MENTIONS or loop.time() >= deadline:
                return messages, "more mentions than one delivery reads"
            account = self.accounts[mention.ig_user_id]
            connector = await self._connector(account)
            if connector is None:
                return messages, f"account {account.name!r} cannot read mentions now"
            where = f"Instagram mention {mention.external_id} of account {account.name!r}"
            try:
                async with asyncio.timeout(deadline - loop.time()):
                    messages.append(await connector.read_mention(mention.media_id, mention.comment_id))
            except TimeoutError:
                log.warning("webcare wall: %s: Graph did not answer in time; Meta will deliver it again", where)
                return messages, "Graph did not answer in time"
            except ConnectorError as error:
                said = connector.redact(error.message)
                if error.retryable or error.needs_auth:
                    log.warning("webcare wall: %s was not read, Meta will deliver it again: %s", where, said)
                    return messages, "Graph cannot be read now"
                log.warning("webcare wall: %s is gone (deleted, or no longer readable); not stored: %s", where, said)
            except Skip as reason:
                log.warning("webcare wall: %s was skipped: %s", where, connector.redact(str(reason)))
        return messages, None

    async def _connector(self, account: Account) -> InstagramConnector | None:
        """The account's connector (its Page token from the keyring, as for the sync); None, logged, when it
        cannot be built now."""
        async with self._building:
            if account.name not in self._connectors:
                try:  # the keyring may take a while: off the event loop
                    built = await asyncio.to_thread(self.build, replace(self.config, accounts=(account,)))
                except (CredentialsError, ConfigError, KeyError) as error:
                    log.error("webcare wall: account %r cannot read Instagram mentions: %s", account.name, error)
                    return None
                connector = built.get(account.name)
                if not isinstance(connector, InstagramConnector):
                    log.error("webcare wall: account %r is no Instagram connector of webcare's: it cannot read "
                              "mentions", account.name)
                    for other in built.values():
                        await other.aclose()
                    return None
                self._connectors[account.name] = connector
            return self._connectors[account.name]
