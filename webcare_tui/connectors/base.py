"""Provides `Connector`, the one small interface every platform module implements.

A connector fetches new messages since a cursor, sends replies and applies platform
actions. It knows nothing of the store: the sync worker ingests what it fetches and
keeps its cursor; the outbox worker hands it what to send.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar

from webcare_tui.config import Account
from webcare_tui.model import Message

if TYPE_CHECKING:  # the demo path never needs httpx: it costs ~65 ms of start-up
    import httpx

GROUP = "webcare_tui.connectors"


@dataclass(frozen=True)
class Capabilities:
    """What a platform allows; the UI and macros respect it."""

    max_reply_length: int | None = None
    private_messages: bool = True
    like: bool = False
    reply_window: int | None = None  # seconds after the customer's last message (WhatsApp: 24 h)
    # Sending the same idempotency key twice publishes once (Mastodon's Idempotency-Key,
    # Matrix's txnId): a send whose outcome is unknown may simply be repeated.
    idempotent_send: bool = False
    # How long the platform keeps a key, in seconds (None: as long as a send can be in doubt).
    # Mastodon stores an Idempotency-Key "for up to 1 hour"; later, the same key posts again.
    keys_kept_for: float | None = None
    # Case actions the platform keeps itself (a helpdesk such as Chatwoot): "labels", "assign",
    # "status", "memo". An agent's change of these is queued for the platform too.
    case_actions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RemoteCase:
    """A platform's own state of one conversation, for platforms that keep case state (Chatwoot).

    Fields that are None were not reported. `status` and `owner` are in our terms (a status of
    `model.CaseStatus`, an agent id); the connector maps the platform's.
    """

    thread: str  # every external id of the conversation's messages starts with this (Chatwoot: "42:")
    updated_at: int  # when the platform last changed the conversation (epoch seconds)
    status: str | None = None
    owner: str | None = None
    labels: tuple[str, ...] | None = None
    # The platform's priority in our terms (an index into `cases.PRIORITIES`: 0 normal … 3 urgent).
    priority: int | None = None
    # The platform's team of the conversation, by our team name where the account maps it ("" none).
    # It becomes the case's team (`CaseService.apply_remote`); None: not reported.
    team: str | None = None


@dataclass(frozen=True)
class RemoteMemo:
    """An internal note a platform keeps on a conversation (Chatwoot: a private note): a memo on its case.

    It is a teammate's, or one of ours come back: ours carry as `external_id` the id that
    `Connector.apply_case_action` returned for the memo (the outbox row's `remote_id`), so the sync
    can tell them from a teammate's.
    """

    thread: str  # the conversation, as RemoteCase.thread ("42:")
    external_id: str  # the note's own id on the platform, starting with `thread` ("42:9004")
    agent: str | None  # our agent id of its writer ("chatwoot:12" if unmapped); None: not an agent
    text: str
    created_at: int


@dataclass(frozen=True)
class DeliveryFailure:
    """A message of ours the platform took but its channel refused later: it never reached the customer."""

    external_id: str  # as SentReply.external_id (the outbox row's remote_id), e.g. "42:9501"
    reason: str  # plain words, naming the platform: "Chatwoot could not deliver the message: …"


@dataclass
class FetchResult:
    messages: list[Message]
    cursor: str | None  # where the next fetch starts; stored only once `messages` are ingested
    more: bool = False  # another page is ready: fetch again at once
    # Items of the page that could not be read (malformed, unknown type we cannot map), each
    # "id: reason"; the sync reports them and goes on with the rest.
    skipped: list[str] = field(default_factory=list)
    # The platform's case state of conversations that changed (platforms that keep it).
    remote_cases: list[RemoteCase] = field(default_factory=list)
    # Internal notes of conversations read (platforms that keep them): memos on their cases.
    memos: list[RemoteMemo] = field(default_factory=list)
    # Messages of ours the platform reports undelivered: their outbox rows are failed with the reason.
    failed_sends: list[DeliveryFailure] = field(default_factory=list)


@dataclass(frozen=True)
class OutgoingReply:
    idempotency_key: str  # made when the agent acted; sent where the platform honours one
    platform: str
    account: str
    recipient_id: str  # the customer's platform id
    text: str
    visibility: str  # "public" or "private"
    in_reply_to: str | None = None  # external id of the message answered


@dataclass(frozen=True)
class CaseAction:
    """An agent's change of a case, to be applied on the platform too (`Capabilities.case_actions`).

    `kind` and `value`: "labels" {"add": [...], "remove": [...]}, "assign" {"owner": agent id or None},
    "status" {"status": a case status}, "memo" {"text": ...}, "priority" {"priority": 0 … 3},
    "team" {"team": our team name or None}.
    """

    idempotency_key: str
    platform: str
    account: str
    kind: str
    value: dict
    in_reply_to: str | None = None  # external id of the customer's last message: names the conversation


@dataclass(frozen=True)
class SentReply:
    external_id: str
    created_at: int
    url: str | None = None


@dataclass
class ConnectorError(Exception):
    """A platform call failed; `message` says what happened in plain words.

    Attributes:
        retryable: trying again later may work (network, 5xx, rate limit).
        retry_after: seconds to wait before trying again (a rate limit), if known; always held
            within `http.bounded_wait`'s bounds, whatever a connector passes, so a worker never
            sleeps forever on it.
        needs_auth: the token was refused: the account needs signing in again.
        outcome_unknown: the request may have reached the platform (a timeout after
            sending): the reply may be out already.
    """

    message: str
    retryable: bool = True
    retry_after: float | None = None
    needs_auth: bool = False
    outcome_unknown: bool = False

    def __post_init__(self) -> None:
        if self.retry_after is not None:  # the last line of defence, for third-party connectors too
            from webcare_tui.connectors.http import bounded_wait  # here: http imports httpx, the demo needs none

            self.retry_after = bounded_wait(self.retry_after)

    def __str__(self) -> str:
        return self.message


class Connector(ABC):
    """One account on one platform.

    Subclasses set `platform` and `capabilities` and implement the methods below.
    """

    platform: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self._secret = secret
        self.http = http

    def redact(self, text: str) -> str:
        """`text` without this account's secret (some APIs put the token in the URL an error quotes)."""
        return text.replace(self._secret, "•••") if self._secret and len(self._secret) >= 4 else text

    def safe(self, error: ConnectorError) -> ConnectorError:
        """The error with the secret taken out of its message, fit to show, log or store."""
        return replace(error, message=self.redact(error.message))

    @abstractmethod
    async def fetch(self, cursor: str | None) -> FetchResult:
        """Messages newer than `cursor` (None: the first sync).

        Returns:
            A page of normalized messages and the cursor after them.

        Raises:
            ConnectorError: the platform could not be read; nothing was consumed.
        """

    @abstractmethod
    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        """Publish a reply (public or private) in the customer's conversation.

        Raises:
            ConnectorError: it was not sent (`retryable` says whether to try again).
        """

    def sends_once_per_key(self, key_age: float = 0.0) -> bool:
        """Whether a reply sent again with its idempotency key is published once, as far as this
        connector knows now. The outbox simply repeats a reply whose outcome is unknown (a timeout,
        a crash mid-send) only then; otherwise it looks for it first (`find_sent`).

        Args:
            key_age: seconds since the key was made; it was first sent no earlier.

        Returns:
            `capabilities.idempotent_send` while the platform still keeps a key that old
            (`keys_kept_for`), unless the connector learnt otherwise (`prepare`): a Mastodon
            connector on a server whose software makes no such promise says False.
        """
        kept = self.capabilities.keys_kept_for
        return self.capabilities.idempotent_send and (kept is None or key_age < kept)

    async def prepare(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Learn what the platform promises before the outbox recovers or sends anything (the
        outbox worker calls this when it starts). Never raises: what cannot be learnt now is not
        assumed either way beyond `sends_once_per_key`'s answer."""

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        """Look among the account's own recent posts for `reply` (after a crash mid-send).

        Returns:
            The reply as published, or None when it certainly was not.

        Raises:
            ConnectorError: the platform gives no way to tell.
        """
        raise ConnectorError(f"{self.platform} gives no way to check what was sent", retryable=False)

    async def like(self, external_id: str) -> None:
        """Like/favourite a message on the platform."""
        raise ConnectorError(f"{self.platform} has no likes", retryable=False)

    async def apply_case_action(self, action: CaseAction) -> str | None:
        """Apply an agent's case change on the platform (labels, assignment, status, memo).

        Returns:
            The platform's id of what it created (a memo's note), or None.

        Raises:
            ConnectorError: it was not applied (`retryable` says whether to try again).
        """
        raise ConnectorError(f"{self.platform} keeps no {action.kind} of its own", retryable=False)

    async def find_case_action(self, action: CaseAction) -> bool:
        """Whether `action` reached the platform (after a crash mid-send; memos are not idempotent).

        Raises:
            ConnectorError: the platform gives no way to tell.
        """
        raise ConnectorError(f"{self.platform} gives no way to check what was applied", retryable=False)

    async def set_typing(self, external_id: str, on: bool, *, private: bool = False) -> None:  # noqa: B027
        """Tell the platform whether the agent is typing in a conversation, for teammates (and, unless
        `private`, the customer) to see. Optional: most platforms show no typing from an API, and the
        default does nothing.

        Args:
            external_id: a message's external id in the conversation, or the conversation's thread ("42:").
            on: typing now (True) or stopped (False).
            private: the agent writes an internal note (a memo), not a reply.

        Raises:
            ConnectorError: the platform refused it (best effort: a caller may ignore it).
        """

    async def set_open(self, external_id: str, agent: str, until: float | None) -> None:  # noqa: B027
        """Tell teammates' consoles that `agent` has this conversation open until `until`, or no longer
        (None). Optional: only a platform the team shares can say it (Chatwoot); the default does nothing.

        Args:
            external_id: a message's external id in the conversation, or the conversation's thread ("42:").
            agent: our agent id (the config's `[agent] id`).
            until: epoch seconds after which it counts as closed (a console that crashed never says so);
                None: closed now.

        Raises:
            ConnectorError: the platform refused it (best effort: a caller may ignore it).
        """

    def note_changed(self, threads: Collection[str]) -> None:  # noqa: B027 (optional hook, not abstract)
        """A realtime channel said these conversations (threads, as `RemoteCase.thread`) changed: the
        next `fetch` reads them whatever its cursor says (a change without new activity, such as a
        teammate's priority, is otherwise seen late). The default does nothing: the cursor finds them."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release network resources."""


def connector_class(name: str) -> type[Connector]:
    """The connector registered under `name` in the entry-point group.

    Raises:
        KeyError: no connector of that name is installed.
    """
    found = {entry.name: entry for entry in entry_points(group=GROUP)}
    if name not in found:
        if name == "demo":  # the embedded default works even from a source checkout
            from webcare_tui.connectors.demo import DemoConnector

            return DemoConnector
        known = ", ".join(sorted(found)) or "none"
        raise KeyError(f"no connector for platform {name!r} (installed: {known})")
    return found[name].load()
