"""Provides `webcare watch`: the console's background work without the console, for a server.

It runs what the app runs in the background, from the same pieces: the sync of every configured
account with the routing rules (`SyncRunner`, `runtime.router_for`), the outbox (`OutboxWorker`),
the alerts check (`alerts.check`, and the alerts routing rules raised at ingest), each under one
`Supervisor` (a failure is logged with secrets taken out, said in one line on stderr, and the work
restarts with backoff); and it sends the alerts to the `[[notify]]` channels (`notify.Notifier`).

SIGTERM or Ctrl-C stops it cleanly (exit 0): what is being sent is marked so, and the next start
settles it (`Notifier.recover`). An expected failure (a bad config, a missing secret, no channel)
is one plain line and exit 2, as every `webcare` command does. `webcare watch --set-secret NAME`
keeps a channel's secret (SMTP password, a secret webhook URL, an ntfy token) in the keyring.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TextIO

from webcare_tui.alerts import Alerts
from webcare_tui.alerts import check as check_alerts
from webcare_tui.config import Config, ConfigError, notify_secret_name
from webcare_tui.connectors.base import Connector
from webcare_tui.kpi import KpiSettings, settings_from_config
from webcare_tui.notify import RULE_LOOKBACK, Channel, Notifier, build_channels, rule_alerts
from webcare_tui.outbox import OutboxWorker
from webcare_tui.runtime import alert_settings, router_for, rule_book
from webcare_tui.safe_text import clean
from webcare_tui.supervisor import Health, Supervisor, start_log
from webcare_tui.sync import SyncRunner, SyncStatus

ALERT_INTERVAL = 30.0  # seconds between alert checks (and at once after a sync brought something new)
SYNC_INTERVAL = 5.0
STOP_GRACE = 30.0  # seconds a send in progress may take to finish when the watch is stopped


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    """Add `watch` to the `webcare` command's subparsers."""
    watch = subcommands.add_parser(
        "watch", help="sync, route, deliver the outbox and send alerts to [[notify]] channels, with no console",
        description="Run headless (a server, a spare machine): sync every account with the routing rules, "
        "deliver the outbox, check the alerts and send them to the [[notify]] channels of the config. "
        "SIGTERM or Ctrl-C stops it.")
    watch.add_argument("--set-secret", metavar="NAME",
                       help="ask for the secret of the [[notify]] block NAME (SMTP password, secret webhook URL, "
                       "ntfy token; hidden input, or a line on stdin) and keep it in the keyring, then exit")
    watch.set_defaults(handler=run)
    return watch


def run(args: argparse.Namespace, config: Config, store: Any, out: TextIO) -> int:
    """`webcare watch`: until SIGTERM or Ctrl-C (0). Expected failures raise ConfigError or
    CredentialsError, which `cli` says in one line (exit 2)."""
    if args.set_secret is not None:
        return _set_secret(args.set_secret, config, out)
    if not config.notify:
        raise ConfigError(f"{config.path or 'the config file'}: no [[notify]] block: add one to say where"
                          " alerts go (kind = \"matrix\", \"email\" or \"webhook\"; see the README)")
    from webcare_tui.runtime import build_connectors

    connectors = build_connectors(config) if config.accounts else {}  # the demo is for the console
    args.connectors = connectors  # cli's redaction, should it fail
    channels = build_channels(config)
    watch = Watch(config, store, connectors, channels, say=lambda line: print(line, file=sys.stderr, flush=True))
    accounts = ", ".join(connectors) or "none (alerts from what the store holds)"
    ready = (f"webcare watch: accounts {clean(accounts, single_line=True)}; channels"
             f" {clean(', '.join(channels), single_line=True)}. SIGTERM or Ctrl-C stops it.")
    asyncio.run(_until_stopped(watch, lambda: print(ready, file=out, flush=True)))
    print("webcare watch: stopped", file=out, flush=True)
    return 0


async def _until_stopped(watch: Watch, ready: Callable[[], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready()  # said once a signal stops it cleanly
    try:
        await watch.serve(stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _set_secret(name: str, config: Config, out: TextIO) -> int:
    from webcare_tui.credentials import set_secret

    if not any(spec.name == name for spec in config.notify):
        known = ", ".join(spec.name for spec in config.notify) or "none"
        raise ConfigError(f"{config.path or 'the config file'}: no [[notify]] block named"
                          f" {clean(name, single_line=True)!r} (blocks: {known})")
    secret = (getpass.getpass(f"secret for {clean(name, single_line=True)}: ") if sys.stdin.isatty()
              else sys.stdin.readline().rstrip("\r\n"))
    if not secret:
        raise ConfigError("no secret given; nothing was stored")
    set_secret(notify_secret_name(name), secret)
    print(f"kept in the keyring as {notify_secret_name(name)!r}", file=out)
    return 0


def working_hours(kpi: KpiSettings) -> Callable[[float], bool]:
    """Whether a moment is in the team's working hours: `[kpi] working_hours`, else any agent's `hours`
    in `[team]`. With neither, always (the config refuses "outside working hours" then)."""
    schedules = [kpi.team_hours] if kpi.team_hours is not None else list(kpi.agent_hours.values())
    if not schedules:
        return lambda now: True
    return lambda now: any(schedule.is_working(now) for schedule in schedules)


class Watch:
    """The headless runner: sync, outbox, alerts and one delivery loop per channel, supervised.

    Args:
        say: where a worker's trouble is said in one line (stderr), besides the log.
        alert_interval, tick: seconds between alert checks, and between looks at a channel's queue.
    """

    def __init__(self, config: Config, store: Any, connectors: dict[str, Connector], channels: dict[str, Channel],
                 clock: Callable[[], float] = time.time, say: Callable[[str], None] = lambda line: None,
                 alert_interval: float = ALERT_INTERVAL, tick: float = 5.0, sync_interval: float = SYNC_INTERVAL,
                 first_retry: float | None = None) -> None:
        self.config, self.store, self.connectors, self.clock = config, store, connectors, clock
        self.say = say
        self.alert_interval, self.tick, self.sync_interval = alert_interval, tick, sync_interval
        self.settings = alert_settings(config)
        self.kpi = settings_from_config(config.raw, str(config.path or "config"))
        retry = {} if first_retry is None else {"first_retry": first_retry}
        self.notifier = Notifier(store, channels, clock, working_hours(self.kpi), **retry)
        self.supervisor = Supervisor(self.on_health, redact=self.redact, **retry)
        self.checked = asyncio.Event()  # set after each alert check (tests wait on it)
        self._check_now = asyncio.Event()

    def redact(self, text: str) -> str:
        """`text` without any account's or channel's secret (for the log and stderr)."""
        for connector in self.connectors.values():
            text = connector.redact(text)
        return self.notifier.redact(text)

    def on_health(self, health: Health) -> None:
        if health.up:
            self.say(f"webcare watch: {health.name} works")
        else:
            retry = f"; again in {health.retry_in:.0f} s" if health.retry_in else ""
            self.say(f"webcare watch: {health.name} stopped: {health.problem}{retry}")

    def alerts_now(self) -> Alerts:
        """Every alert of the moment (blocking: run on a thread): the app's check, spikes included, and
        the alerts routing rules raised for messages of the last day."""
        now = int(self.clock())
        kpi = self.kpi
        found = check_alerts(self.store, now, self.settings, kpi.deadline_for, min([kpi.deadline, *kpi.deadlines.values()]))
        return found + rule_alerts(self.store.rule_alert_events(now - RULE_LOOKBACK))

    async def check_once(self) -> int:
        """One alert check; queued alerts wake the channels. Returns how many rows were new."""
        alerts = await asyncio.to_thread(self.alerts_now)
        new = await asyncio.to_thread(self.notifier.enqueue, alerts)
        if new:
            self.notifier.wake()
        self.supervisor.succeeded("alerts")
        self.checked.set()
        return new

    async def check_alerts(self) -> None:
        while True:
            self._check_now.clear()
            await self.check_once()
            with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can drop a cancellation
                async with asyncio.timeout(self.alert_interval):
                    await self._check_now.wait()

    def on_sync_status(self, status: SyncStatus) -> None:
        self.supervisor.succeeded("sync")
        if status.error:
            self.supervisor.report(f"sync {status.account}", False, status.error, status.retry_in)
        else:
            self.supervisor.report(f"sync {status.account}", True)
        if status.new_messages:
            self._check_now.set()  # a rule's alert or a loud voice: at once, not at the next check

    def works(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The supervised work, by name."""
        work: dict[str, Callable[[], Awaitable[None]]] = {}
        if self.connectors:
            router = router_for(self.config, self.store, self.clock, rule_book(self.config))
            runner = SyncRunner(self.store, self.connectors, self.config.threading, on_status=self.on_sync_status,
                                clock=self.clock, router=router)
            work["sync"] = partial(runner.run, interval=self.sync_interval)
            outbox = OutboxWorker(self.store, self.connectors, clock=self.clock)
            work["outbox"] = partial(outbox.run, on_round=lambda: self.supervisor.succeeded("outbox"))
        work["alerts"] = self.check_alerts
        for name in self.notifier.channels:
            def report(up: bool, problem: str | None, retry_in: float | None, name: str = name) -> None:
                self.supervisor.report(f"notify {name}", up, problem, retry_in)

            work[f"notify {name}"] = partial(self.notifier.run, name, self.tick, report)
        return work

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then cancel the work and close every connection."""
        start_log(self.redact)
        await asyncio.to_thread(self.notifier.recover)
        tasks = [asyncio.create_task(self.supervisor.run(name, work), name=name)
                 for name, work in self.works().items()]
        try:
            await stop.wait()
        finally:
            # a send in progress is let finish and marked (else a mail or webhook would be "unknown")
            self.notifier.stop()
            sending = [task for task in tasks if task.get_name().startswith("notify ")]
            for task in tasks:
                if task not in sending:
                    task.cancel()
            await asyncio.wait(sending, timeout=STOP_GRACE) if sending else None
            for task in sending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.notifier.aclose()
            for connector in self.connectors.values():
                await connector.aclose()
