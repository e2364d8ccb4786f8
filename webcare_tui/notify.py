"""Provides alerts that leave the console: delivery channels, their queue, dedupe and rate limit.

`webcare watch` (watch.py) checks the alerts (alerts.py, and those routing rules raised at ingest)
and hands them to a `Notifier`, which queues each alert once per `[[notify]]` channel that wants it
(its kinds, minimum severity and `when`) and delivers the queue through the channel:

- **matrix**: `PUT /rooms/{room}/send/m.room.message/{txnId}` with the token of the `[[account]]` the
  block names (`connectors.matrix.MatrixApi`); the txnId is made from the alert keys of the message,
  so a repeat after a timeout or a restart is published once.
- **email**: the standard library's `smtplib`, STARTTLS, a plain-text mail; the password is in the
  keyring (`credentials.get_secret(notify_secret_name(name))`), never in the config file.
- **webhook**: `format = "slack"` posts `{"text": …}` (Slack and Mattermost incoming webhooks), with
  `&`, `<` and `>` escaped as Slack asks and `@` mentions broken; `format = "ntfy"` posts the text as the
  body with `Title`, `Priority` and `Tags` headers (ntfy's publish API); a secret URL or an ntfy access
  token comes from the keyring.

Reliability, as the outbox does it:

- The dedupe is the store's `notify_queue` (channel, alert key): an alert is queued for a channel
  once, ever; nothing in memory decides what was sent.
- A row is marked "sending" (with its batch: the message it goes out in) before the send and "sent"
  after. A channel that is down leaves its rows queued, retried with backoff (doubling, capped at
  `MAX_RETRY`): an alert is never lost while a channel is down.
- After a crash or a timeout the outcome of a send may be unknown. Matrix repeats the batch with the
  same txnId (the homeserver publishes it once). E-mail and webhooks cannot tell a repeat from a new
  message, so their in-doubt rows become "unknown" and are not sent again (at most once): a lead
  paged twice at night stops trusting the pager; the log names each such alert.
- Rate limit per channel: at most `limit` messages per `per` (default 5 per 10 minutes). While fewer
  alerts wait than messages are left, each goes alone; otherwise all that wait go out as one message
  with a count ("and 27 more alerts"). With none left, they wait for the window.

Customer text in an alert is plain text (alerts.py cleans it); each format escapes what its receiver
would read as markup. Secrets reach no log, file or database row (`Channel.redact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import smtplib
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from webcare_tui.alerts import Alert
from webcare_tui.config import SEVERITIES, Config, ConfigError, Notify, notify_secret_name
from webcare_tui.safe_text import clean, shown_author

log = logging.getLogger("webcare_tui")

FIRST_RETRY, MAX_RETRY = 5.0, 600.0  # seconds before a failed channel is tried again: doubling, capped
SHOWN = 3  # alerts written out in a message that sums up a storm; the rest counted
TIMEOUT = 20.0  # seconds for one send
MAX_TEXT = 1000  # characters of one alert in a message
RULE_LOOKBACK = 24 * 3600  # rule alerts of messages up to this old are sent (a sync that catches up)


class DeliveryError(Exception):
    """A send failed; `message` in plain words (no secret).

    Attributes:
        maybe_sent: the request may have reached the receiver (a timeout after sending).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.maybe_sent = maybe_sent


# -- what an alert is worth -----------------------------------------------------


def severity_of(alert: Alert) -> str:
    """How urgent an alert is: a deadline about to pass is "normal"; one missed, a loud negative voice
    and a rule's alert (a fake account) are "high"; a storm building is "critical"."""
    if alert.kind == "spike":
        return "critical"
    if alert.kind == "deadline" and not alert.late:
        return "normal"
    return "high"


def wants(spec: Notify, kind: str, severity: str, now: float, is_working: Callable[[float], bool]) -> bool:
    """Whether the channel takes an alert of this kind and severity at `now`."""
    return (kind in spec.kinds and SEVERITIES.index(severity) >= SEVERITIES.index(spec.min_severity)
            and (spec.when == "always" or not is_working(now)))


def rule_alerts(rows: list[dict[str, Any]]) -> list[Alert]:
    """Alerts of kind "rule" from the store's `rule_alert_events`: the rule's text, the case, who, and
    the start of the message (plain text)."""
    alerts = []
    for row in rows:
        who = shown_author(row["author_handle"], row["author_name"], "?")
        said = clean(row["text"] or "", single_line=True)
        snippet = said if len(said) <= 80 else said[:79] + "…"
        text = clean(row["alert"] or row["rule"] or "rule alert", single_line=True)
        alerts.append(Alert("rule", f"rule:{row['id']}",
                            f"{text}: case {row['case_id']} ({who}, {row['platform']}): {snippet}", row["case_id"]))
    return alerts


# -- messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message to a channel: one alert, or a storm summed up."""

    rows: tuple[dict[str, Any], ...]  # the queue rows it carries, oldest first

    @property
    def keys(self) -> list[str]:
        return [row["alert_key"] for row in self.rows]

    @property
    def severity(self) -> str:
        return max((row["severity"] for row in self.rows), key=SEVERITIES.index)

    @property
    def title(self) -> str:
        """A short line with no customer text (ntfy's Title header, a mail's subject)."""
        if len(self.rows) == 1:
            return f"webcare alert: {self.rows[0]['kind']}"
        return f"webcare: {len(self.rows)} alerts"

    def lines(self) -> list[str]:
        """The alerts in plain text: all of them, or the first `SHOWN` and a count of the rest."""
        shown = self.rows if len(self.rows) <= SHOWN + 1 else self.rows[:SHOWN]
        lines = [_line(row) for row in shown]
        if rest := len(self.rows) - len(shown):
            lines.append(f"and {rest} more alert{'s' if rest != 1 else ''}")
        return lines

    def text(self) -> str:
        head = [] if len(self.rows) == 1 else [f"{len(self.rows)} alerts:"]
        return "\n".join(head + self.lines())

    def txn_id(self) -> str:
        """The Matrix txnId: made from the alert keys, the same for the same message after a restart."""
        return "webcare-alert-" + hashlib.sha256("\n".join(self.keys).encode()).hexdigest()[:40]


def _line(row: dict[str, Any]) -> str:
    text = clean(row["text"], single_line=True)
    text = text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
    return f"[{row['severity']}] {text}"


_MENTION = re.compile(r"@(?=\w)")


def slack_text(text: str) -> str:
    """Text as Slack and Mattermost show it literally: `&`, `<`, `>` escaped (Slack's rule: no
    `<!channel>` or link markup from a customer) and `@name` broken with a word joiner (no ping)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u2060", escaped)


NTFY_PRIORITY = {"normal": "default", "high": "high", "critical": "urgent"}


# -- channels -------------------------------------------------------------------------


class Channel(ABC):
    """Where one `[[notify]]` block's messages go."""

    idempotent: ClassVar[bool] = False  # a repeat of the same message (same txn) is delivered once

    def __init__(self, spec: Notify, secrets: Sequence[str | None] = ()) -> None:
        self.spec = spec
        self._secrets = [secret for secret in secrets if secret and len(secret) >= 4]

    def redact(self, text: str) -> str:
        """`text` without this channel's secrets (and their URL-quoted forms)."""
        for secret in self._secrets:
            text = text.replace(secret, "•••").replace(quote(secret, safe=""), "•••")
        return text

    @abstractmethod
    async def send(self, message: Outgoing, txn: str) -> None:
        """Deliver one message.

        Raises:
            DeliveryError: not delivered (`maybe_sent` when it may have been).
        """

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Let go of connections."""


class MatrixChannel(Channel):
    """A Matrix room, sent to with a `[[account]]`'s token and the homeserver's txnId idempotency."""

    idempotent = True

    def __init__(self, spec: Notify, base_url: str, token: str | None, http: httpx.AsyncClient | None = None) -> None:
        from webcare_tui.connectors.matrix import MatrixApi

        super().__init__(spec, [token])
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.api = MatrixApi("Matrix", base_url, headers, http)
        self.room = spec.options["room_id"]

    async def send(self, message: Outgoing, txn: str) -> None:
        from webcare_tui.connectors.base import ConnectorError

        path = (f"/_matrix/client/v3/rooms/{quote(self.room, safe='')}/send/m.room.message/"
                f"{quote(txn, safe='')}")
        content = {"msgtype": self.spec.options.get("msgtype", "m.notice"), "body": message.text()}
        try:
            await self.api.json("PUT", path, json=content, write=True)
        except ConnectorError as error:
            raise DeliveryError(self.redact(error.message), maybe_sent=error.outcome_unknown) from None

    async def aclose(self) -> None:
        await self.api.aclose()


class EmailChannel(Channel):
    """Plain-text mail over SMTP with STARTTLS (`smtplib`, on a thread)."""

    def __init__(self, spec: Notify, password: str | None, timeout: float = TIMEOUT) -> None:
        super().__init__(spec, [password])
        self._password = password
        self.timeout = timeout

    async def send(self, message: Outgoing, txn: str) -> None:
        await asyncio.to_thread(self._send, message, txn)

    def _send(self, message: Outgoing, txn: str) -> None:
        options = self.spec.options
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = options["from"]
        mail["To"] = ", ".join(options["to"])
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(idstring=txn[-16:])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        mail.set_content(message.text() + "\n")  # text/plain: nothing in it is read as markup
        stage = "connect"
        try:
            with smtplib.SMTP(options["host"], options["port"], timeout=self.timeout) as smtp:
                if options.get("starttls", True):
                    stage = "starttls"
                    context = ssl.create_default_context(cafile=options.get("cafile"))
                    smtp.starttls(context=context)
                if options.get("username"):
                    stage = "login"
                    if not self._password:
                        raise DeliveryError(f"no password for {options['username']}: run"
                                            f" `webcare watch --set-secret {self.spec.name}`")
                    smtp.login(options["username"], self._password)
                stage = "send"
                smtp.send_message(mail)
        except DeliveryError:
            raise
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise DeliveryError(self.redact(f"the mail server refused the mail: {error}")) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
            # after the data went out, a dropped line leaves the outcome unknown
            said = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise DeliveryError(self.redact(f"mail to {options['host']} failed ({stage}): {said}"),
                                maybe_sent=stage == "send" and isinstance(error, (smtplib.SMTPServerDisconnected,
                                                                                  TimeoutError))) from None


class WebhookChannel(Channel):
    """A JSON POST in Slack/Mattermost form, or an ntfy publish."""

    def __init__(self, spec: Notify, url: str, token: str | None, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(spec, [url if spec.options.get("url") is None else None, token])
        self.url = url
        self.token = token
        self._own = http is None
        self.http = http or httpx.AsyncClient(timeout=TIMEOUT)

    async def send(self, message: Outgoing, txn: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.spec.options["format"] == "slack":
            kwargs: dict[str, Any] = {"json": {"text": slack_text(message.text())}}
        else:  # ntfy: the text is the body; headers are ours alone (no customer text in a header)
            kinds = sorted({row["kind"] for row in message.rows})
            headers |= {"Title": message.title, "Priority": NTFY_PRIORITY[message.severity],
                        "Tags": ",".join(["warning", *kinds]), "Content-Type": "text/plain; charset=utf-8"}
            kwargs = {"content": message.text().encode()}
        try:
            response = await self.http.post(self.url, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise DeliveryError(f"cannot reach the webhook ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise DeliveryError(f"the webhook did not answer ({type(error).__name__})", maybe_sent=True) from None
        if not response.is_success:
            said = clean(response.text[:200], single_line=True)
            raise DeliveryError(self.redact(f"the webhook answered {response.status_code}: {said}"))

    async def aclose(self) -> None:
        if self._own:
            await self.http.aclose()


def build_channels(config: Config, secret: Callable[[str], str | None] | None = None) -> dict[str, Channel]:
    """One channel per `[[notify]]` block, by name, with its secret from the keyring.

    Raises:
        ConfigError: a block that cannot work without a secret that is not there.
        CredentialsError: the keyring cannot be read.
    """
    from webcare_tui.credentials import CredentialsError

    if secret is None:
        from webcare_tui.credentials import get_secret as secret
    assert secret is not None
    accounts = {account.name: account for account in config.accounts}
    channels: dict[str, Channel] = {}
    for spec in config.notify:
        if spec.kind == "matrix":
            account = accounts[spec.options["account"]]
            token = secret(account.name)
            if not token:
                raise ConfigError(f"{spec.where}: notify {spec.name!r}: account {account.name!r} has no token;"
                                  f" run `webcare accounts add matrix {account.name}`")
            channels[spec.name] = MatrixChannel(spec, str(account.options.get("base_url", "")), token)
        elif spec.kind == "email":
            password = secret(notify_secret_name(spec.name)) if spec.options.get("username") else None
            if spec.options.get("username") and not password:
                raise ConfigError(f"{spec.where}: notify {spec.name!r}: no SMTP password in the keyring;"
                                  f" run `webcare watch --set-secret {spec.name}`")
            channels[spec.name] = EmailChannel(spec, password)
        else:
            try:
                stored = secret(notify_secret_name(spec.name))
            except CredentialsError:
                if not spec.options.get("url"):
                    raise
                stored = None  # with the URL in the file the token is optional: a server may have no keyring
            url = spec.options.get("url") or stored
            if not url or not url.startswith(("https://", "http://")):
                raise ConfigError(f"{spec.where}: notify {spec.name!r}: give url = \"…\", or keep a secret URL"
                                  f" in the keyring with `webcare watch --set-secret {spec.name}`")
            token = stored if spec.options.get("url") else None  # with a URL in the file: an access token
            channels[spec.name] = WebhookChannel(spec, url, token)
    return channels


# -- the queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What one send did, for the log and tests."""

    channel: str
    keys: tuple[str, ...]
    state: str  # "sent", "queued" (retried later), "sending" (repeated later), "unknown"
    error: str | None = None


class Notifier:
    """Queues alerts per channel (once per key, in the store) and delivers them under a rate limit.

    Args:
        store: a `Store` with `NotifyQueries`.
        channels: by `[[notify]]` name.
        is_working: whether a moment is in the team's working hours (for `when`).
    """

    def __init__(self, store: Any, channels: dict[str, Channel], clock: Callable[[], float] = time.time,
                 is_working: Callable[[float], bool] = lambda now: True,
                 first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.is_working = is_working
        self.first_retry, self.max_retry = first_retry, max_retry
        self.failures: dict[str, int] = {}  # failed sends in a row, per channel
        self.wakes = {name: asyncio.Event() for name in channels}
        self.stopping = False  # `stop`: the loops end after the send in progress

    def redact(self, text: str) -> str:
        for channel in self.channels.values():
            text = channel.redact(text)
        return text

    # -- queueing (blocking: run on a thread) --

    def enqueue(self, alerts: Iterable[Alert]) -> int:
        """Queue each alert for each channel that wants it now; an alert a channel had is left alone.
        Returns how many rows were new (the channels' loops are woken by `wake`)."""
        now = self.clock()
        rows = []
        for alert in alerts:
            severity = severity_of(alert)
            for name, channel in self.channels.items():
                if wants(channel.spec, alert.kind, severity, now, self.is_working):
                    rows.append((name, alert.key, alert.kind, severity, clean(alert.text, single_line=True),
                                 alert.case_id))
        return self.store.notify_enqueue(rows, int(now)) if rows else 0

    def stop(self) -> None:
        """Let each channel's loop end once its send in progress is marked (call on the loop's thread)."""
        self.stopping = True
        self.wake()

    def wake(self) -> None:
        """Tell every channel's loop to look at its queue now (call on the loop's thread)."""
        for event in self.wakes.values():
            event.set()

    def recover(self) -> list[Sent]:
        """After a start: rows left "sending" by a run that ended mid-send. A channel that repeats a
        message once (Matrix, by txnId) sends them again as they were; any other marks them "unknown"
        and does not (at most once), and the log names each."""
        now = int(self.clock())
        settled = []
        for name, channel in self.channels.items():
            for rows in self.store.notify_in_flight(name).values():
                keys = [row["alert_key"] for row in rows]
                if channel.idempotent:
                    self.store.notify_mark(name, keys, now, next_at=now)
                    settled.append(Sent(name, tuple(keys), "sending"))
                else:
                    why = "the watch stopped while sending it; not sent again, to send no alert twice"
                    self.store.notify_mark(name, keys, now, state="unknown", last_error=why)
                    for key in keys:
                        log.warning("notify %s: alert %s may not have arrived: %s", name, key, why)
                    settled.append(Sent(name, tuple(keys), "unknown", why))
        return settled

    # -- delivery --

    def _plan(self, name: str) -> list[tuple[Outgoing, str, bool]]:
        """What the channel sends this round (blocking): in-flight batches due again, then what waits,
        one by one or summed up as the rate limit allows. Marks each "sending" before it goes.
        Returns (message, txn, whether it is new this round)."""
        spec = self.channels[name].spec
        now = int(self.clock())
        plan = [(Outgoing(tuple(rows)), batch, False)
                for batch, rows in self.store.notify_in_flight(name, now).items()]
        due = self.store.notify_due(name, now)
        if due:
            left = spec.limit - self.store.notify_messages_since(name, now - spec.per) - len(plan)
            if len(due) < left:
                messages = [Outgoing((row,)) for row in due]
            elif left >= 1:
                messages = [Outgoing(tuple(due))]
            else:
                messages = []  # the window is used up: they wait, and go out summed up
            for message in messages:
                txn = message.txn_id()
                self.store.notify_mark(name, message.keys, now, state="sending", batch=txn, next_at=now)
                plan.append((message, txn, True))
        return plan

    async def deliver(self, name: str) -> list[Sent]:
        """One round for one channel; stops at its first failure (the rest waits with it)."""
        channel = self.channels[name]
        done = []
        plan = await asyncio.to_thread(self._plan, name)
        for index, (message, txn, _) in enumerate(plan):
            if self.stopping:  # what is planned and not tried waits for the next start
                await asyncio.to_thread(self._put_back, name, plan[index:])
                break
            try:
                await channel.send(message, txn)
            except DeliveryError as error:
                done.append(await asyncio.to_thread(self._failed, name, channel, message, error))
                await asyncio.to_thread(self._put_back, name, plan[index + 1:])
                break
            self.failures[name] = 0
            now = int(self.clock())
            await asyncio.to_thread(self.store.notify_mark, name, message.keys, now, state="sent", sent_at=now,
                                    last_error=None)
            done.append(Sent(name, tuple(message.keys), "sent"))
        return done

    def _failed(self, name: str, channel: Channel, message: Outgoing, error: DeliveryError) -> Sent:
        now = int(self.clock())
        failures = self.failures[name] = self.failures.get(name, 0) + 1
        wait = min(self.first_retry * 2 ** (failures - 1), self.max_retry)
        said = clean(channel.redact(error.message), single_line=True)
        keys = message.keys
        if error.maybe_sent and not channel.idempotent:
            self.store.notify_mark(name, keys, now, state="unknown", last_error=said, attempts=1)
            log.warning("notify %s: %d alert(s) may not have arrived, not sent again: %s", name, len(keys), said)
            return Sent(name, tuple(keys), "unknown", said)
        state = "sending" if error.maybe_sent else "queued"  # an idempotent repeat keeps its batch
        fields: dict[str, Any] = {"state": state, "next_at": int(now + wait), "last_error": said, "attempts": 1}
        if state == "queued":
            fields["batch"] = None
        self.store.notify_mark(name, keys, now, **fields)
        log.warning("notify %s: not delivered, trying again in %.0f s: %s", name, wait, said)
        return Sent(name, tuple(keys), state, said)

    def _put_back(self, name: str, rest: list[tuple[Outgoing, str, bool]]) -> None:
        """What this round planned but never tried, after a failure, waits with the failed send: new
        messages queued again (nothing of them went out), repeats of an in-flight batch kept as they are."""
        now = int(self.clock())
        later = int(now + min(self.first_retry * 2 ** (self.failures.get(name, 1) - 1), self.max_retry))
        fresh = [key for message, _, new in rest if new for key in message.keys]
        again = [key for message, _, new in rest if not new for key in message.keys]
        self.store.notify_mark(name, fresh, now, state="queued", batch=None, next_at=later)
        self.store.notify_mark(name, again, now, next_at=later)

    async def run(self, name: str, tick: float = 5.0,
                  report: Callable[[bool, str | None, float | None], None] = lambda up, problem, retry_in: None) -> None:
        """Deliver the channel's queue for good (cancel to stop): every `tick` seconds and when woken.
        `report(up, problem, retry_in)` hears how the channel does after each round that sent something.
        Ends after `stop`, once the send in progress is marked sent or not."""
        wake = self.wakes[name]
        while not self.stopping:
            wake.clear()
            sent = await self.deliver(name)
            if sent:
                failed = next((item for item in sent if item.state != "sent"), None)
                if failed is None:
                    report(True, None, None)
                else:
                    retry = min(self.first_retry * 2 ** (self.failures.get(name, 1) - 1), self.max_retry)
                    report(False, failed.error, retry if failed.state != "unknown" else None)
            # asyncio.timeout, not wait_for: on 3.11 wait_for can drop a cancellation (see SyncRunner.run)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick):
                    await wake.wait()

    async def aclose(self) -> None:
        for channel in self.channels.values():
            await channel.aclose()
