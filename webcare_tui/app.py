"""Provides `make_app`: the Textual console (inbox, case screen), fed by the background sync."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.signal import Signal

from webcare_tui.alerts import AlertNews, Alerts, AlertWatch, summary
from webcare_tui.alerts import check as check_alerts
from webcare_tui.approvals import ApprovalError, approval_rule, is_lead
from webcare_tui.case_query import View, builtin_views
from webcare_tui.case_view import CaseView, read_case
from webcare_tui.cases import CaseError, CaseService, case_actions_of
from webcare_tui.config import Config, append_view, config_path
from webcare_tui.connectors.base import Connector, ConnectorError
from webcare_tui.connectors.chatwoot_cable import LiveState, LiveUpdate, cables_for, thread_of
from webcare_tui.idle_gc import IdleCollector
from webcare_tui.kpi import settings_from_config
from webcare_tui.macro_runner import MacroError, MacroRunner
from webcare_tui.macros import load_macros
from webcare_tui.outbox import Delivery, Outbox, OutboxWorker, ReplyError
from webcare_tui.runtime import alert_settings, build_connectors, macro_folders, router_for, rule_book, team_agents
from webcare_tui.safe_text import clean
from webcare_tui.screens.alerts import AlertList, AlertsScreen
from webcare_tui.screens.case import CaseScreen
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.screens.keys import KeysScreen, describe, key_rows
from webcare_tui.screens.macro_keys import with_macro_keys
from webcare_tui.store import Store, StoreError, store_trouble
from webcare_tui.store.errors import StoreFailure
from webcare_tui.supervisor import Health, Supervisor, start_log
from webcare_tui.sync import SyncRunner, SyncStatus
from webcare_tui.undo import Undo, Undoable, UndoError
from webcare_tui.widgets.background import REPEAT_PAUSE, Background, JobDone
from webcare_tui.widgets.case_list import CaseList
from webcare_tui.widgets.status_header import HeaderLine, StatusHeader

log = logging.getLogger("webcare_tui")
WATCH_INTERVAL = 0.5  # seconds between looks for another process's writes
GC_CHECK = 1.0  # seconds between looks whether a full garbage-collection pass may run (see IdleCollector)
# Team mode: the case the agent has open is marked on the helpdesk's conversation for teammates, until
# OPEN_FOR seconds ahead, renewed every OPEN_RENEW seconds while it stays open (a console that crashes
# stops renewing: its marker then runs out by itself)
OPEN_FOR, OPEN_RENEW = 120, 60
QUIT_WAIT = 3.0  # seconds quitting waits, at most, to take our marker off the case open
# what an agent's action may be refused with: said to the agent, never a failure of the app
REFUSALS = (CaseError, ReplyError, ApprovalError, MacroError, UndoError, StoreError)
Result = TypeVar("Result")


class WebcareApp(App):
    TITLE = "webcare"
    BINDINGS = [
        Binding("question_mark", "toggle_help", "Keys", id="app.keys"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit"),
        Binding("f2", "dashboard", "Dashboard", show=False, id="app.dashboard"),  # in ? and the palette
        Binding("exclamation_mark", "alerts", "Alerts", id="app.alerts"),
    ]

    def __init__(self, config: Config, store: Store, connectors: dict[str, Connector],
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.config = config
        self.store = store
        self.connectors = connectors
        self.cases = CaseService(store, config.threading, clock, remote_actions=case_actions_of(connectors))
        self.outbox = Outbox(store, config.threading, clock=clock, needs_approval=approval_rule(config.team))
        self.macros = load_macros(macro_folders(config), agents=team_agents(config) or None,
                                  blocks=config.raw.get("blocks", {}))
        # the inbox and case screens with the macros' keys; keys taken by built-in actions are reported
        keymap = config.keymap
        self.inbox_screen, inbox_conflicts = with_macro_keys(InboxScreen, self.macros.macros, keymap,
                                                             taken_by=(CaseList, type(self)))
        self.case_screen, case_conflicts = with_macro_keys(CaseScreen, self.macros.macros, keymap,
                                                           taken_by=(VerticalScroll, type(self)))
        self.macro_conflicts = sorted({*inbox_conflicts, *case_conflicts})
        self._reported: set[str] = set()
        self.macro_runner = MacroRunner(store, self.cases, self.outbox, config.agent, blocks=config.raw.get("blocks", {}),
                                        grace=config.undo_grace,
                                        clock=clock)
        self.last_action: Undoable | None = None  # what `u` takes back, within the grace period
        self.live = LiveState(wall=clock)  # who is typing, has a case open or is online in team mode
        self._open: tuple[str, str] | None = None  # (account, external id) of the case the agent has open
        self._open_said = asyncio.Lock()  # our open-markers go out one after the other, in order
        self.rules = rule_book(config)
        self.views = self._views()
        self.sync_states: dict[str, str] = {}
        self.header_line = HeaderLine()  # what the header says (see `show_status`)
        self.alert_settings = alert_settings(config)
        # deadlines per platform, time zone, targets: read once, for the inbox, alerts and dashboard
        self.kpi_settings = settings_from_config(config.raw, str(config.path or "config"))
        self.alerts = Alerts()
        self.alerts_checked = asyncio.Event()  # set once the first check is on screen (tests wait on it)
        self.alerts_changed: Signal[Alerts] = Signal(self, "alerts_changed")  # each check's alerts, when they changed
        self.alert_watch = AlertWatch()  # what the checks found and told, kept off the UI thread
        self.jobs = Background(self)  # reads, counts and the agent's writes, off the UI thread
        self.outbox_count: int | None = None  # for the header, counted in the background
        self._case_screen: CaseScreen | None = None  # kept between cases: see open_case
        self._opening = 0  # the newest case asked for
        # every change to the store, by this app or another process: the cases it touched (None: unknown)
        self.store_changed: Signal[frozenset[int] | None] = Signal(self, "store_changed")
        self.live_changed: Signal[str] = Signal(self, "live_changed")  # an account's typing or presence moved
        self._data_version: int | None = None
        self.supervisor = Supervisor(self.on_health, redact=self.redact)
        self.collector = IdleCollector()  # full garbage-collection passes while no key comes

    def redact(self, text: str) -> str:
        """`text` without any account's secret (for the log and the screen)."""
        for connector in self.connectors.values():
            text = connector.redact(text)
        return text

    def _views(self) -> list[View]:
        """The built-in views, the saved ones from the config, and a column per routing rule's view."""
        me = self.config.agent.id
        views = builtin_views(me, lead=is_lead(self.config.team, me))
        open_cases = views[2].query
        views += [View(view["name"], open_cases, str(view.get("key", "")), view["query"])
                  for view in self.config.raw.get("view", [])]
        for name in self.rules.views():
            if any(view.name == name for view in views):
                continue
            free = next((str(n) for n in range(1, 10) if all(view.key != str(n) for view in views)), "")
            views.append(View(name, open_cases, free, f"label:{json.dumps(name)}"))
        return views

    def binding_ids(self) -> set[str]:
        """Every action id an agent can remap in the config's [keymap]."""
        from webcare_tui.screens.dashboard import DashboardScreen
        from webcare_tui.screens.macro_keys import MacroKeys
        from webcare_tui.screens.reply import ReplyScreen
        from webcare_tui.widgets.case_list import CaseList

        classes = (WebcareApp, InboxScreen, CaseScreen, ReplyScreen, CaseList, DashboardScreen, AlertsScreen, AlertList,
                   KeysScreen)
        extra = {binding.id for binding in MacroKeys.MACRO_BINDINGS}
        ids = {binding.id for cls in classes for binding in cls.BINDINGS if isinstance(binding, Binding)}
        return {binding_id for binding_id in extra | ids if binding_id}

    def apply_keymap(self) -> None:
        if not self.config.keymap:
            return
        known = self.binding_ids()
        unknown = [f"{self.config.keymap_where[action]}: no action with that id" for action in self.config.keymap
                   if action not in known]
        if unknown:
            self.notify("\n".join(unknown) + f"\nKnown: {', '.join(sorted(known))}", title="keymap", severity="error",
                        timeout=30, markup=False)
        self.set_keymap({action: keys for action, keys in self.config.keymap.items() if action in known})

    def on_mount(self) -> None:
        self.apply_keymap()
        if start_log(self.redact) is None:
            self.notify("the log file cannot be written; failures are shown here only", severity="warning",
                        markup=False)
        if str(self.store.path) != ":memory:":
            self.store.defer_checkpoints()  # a checkpoint's fsync never lands on a keystroke
            self.set_interval(20, lambda: self.jobs.counts.submit(self.store.checkpoint))
            self.watch_store()  # the baseline, before any write of ours
            self.set_interval(WATCH_INTERVAL, self.watch_store)
        self.set_interval(30, self.check_alerts)
        self.set_interval(OPEN_RENEW, self._renew_open)
        self.refresh_header()  # before the first alert check, which may answer at once
        self.check_alerts()
        # a case answered, a new message, another process's write: the deadlines are looked at again
        self.store_changed.subscribe(self, lambda cases: self.check_alerts(spikes=False))
        self.push_screen(self.inbox_screen())
        # what is loaded by now (lexicons, language models, Textual) lives as long as the app: out of
        # the garbage collector's full passes, which took up to 260 ms of the event loop on the 1M
        # store with it and about half that without (bench/live.py); given back when the app ends
        gc.freeze()
        self.collector.start()  # and the full passes of what comes later run while no key comes
        self.set_interval(GC_CHECK, self.collector.tick)
        self.report_macro_problems()
        if self.connectors:
            self.run_sync()
            self.run_outbox()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.collector.key()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.supervisor.stop()  # the workers first: they ask the threads below for work
        self.collector.stop()
        gc.unfreeze()
        self.jobs.shutdown()
        if str(self.store.path) != ":memory:":
            self.store.checkpoint()

    def save_view(self, name: str, query: str, key: str) -> None:
        """A search kept as a view: in the config file and, at once, on its key."""
        append_view(self.config.path or config_path(), name, query, key)
        self.views.append(View(name, builtin_views(self.config.agent.id)[2].query, key, query))

    def report_macro_problems(self) -> None:
        """Tell the agent, once, which macros and rules did not load or could not get their key."""
        problems = [p for p in self.macros.errors + self.rules.errors + self.macro_conflicts
                    if p not in self._reported]
        if problems:
            self._reported.update(problems)
            self.notify("\n".join(problems), title="macros not loaded or without their key", severity="error",
                        timeout=30, markup=False)

    @property
    def agents_allowed(self) -> str | None:
        """What a hand-over may name, when a team is configured (then nobody else); None: anyone."""
        return "an agent of the team" if self.config.team else None

    def agent_ids(self) -> list[str]:
        """Who a case can be handed to: me and the team, or with no team configured, me and every owner
        in the store (runs off the UI thread)."""
        team = [str(agent.get("id")) for agent in self.config.team if agent.get("id")]
        return sorted({self.config.agent.id, *(team or self.store.known_owners())})

    def read(self, question: Callable[[], Result], then: Callable[[Result], Any],
             refused: Callable[[str], Any] | None = None, *, latest: object = None) -> None:
        """Ask the store `question` on the reader thread; `then(answer)` on the UI thread, or
        `refused(why)` (by default a notice) when the store cannot answer (no such case, a damaged file).
        With a `latest` key, asked again before it answered, it is asked once more afterwards only."""
        self._off_ui_thread(self.jobs.reads, question, then, refused or self.tell, job="reads", latest=latest)

    @property
    def undo(self) -> Undo:
        """Records the agent's actions and takes the last one back (the macros' too)."""
        return self.macro_runner.undo_log

    def act(self, work: Callable[[], Result], done: Callable[[Result], Any], refused: Callable[[str], Any], *,
            undo_as: tuple[str, list[int]] | None = None) -> None:
        """An agent's action: `work` runs on the writer thread, after the actions given before it;
        then, on the UI thread, `done(result)`, or `refused(why)` in plain words when the action
        could not be done (nothing of it was written: each action is one transaction).
        `undo_as` (what it is called, the cases it changes): `u` can take it back (`last_action`)."""
        if undo_as is None:
            self._off_ui_thread(self.jobs.writes, work, done, refused, job="actions", after=self.after_write)
            return
        what, case_ids = undo_as

        def recorded(outcome: tuple[Result, Undoable]) -> None:
            self.last_action = outcome[1]
            done(outcome[0])

        self._off_ui_thread(self.jobs.writes, lambda: self.undo.record(what, case_ids, work), recorded, refused,
                            job="actions", after=self.after_write)

    def keep(self, work: Callable[[], Result], done: Callable[[Result], Any], refused: Callable[[str], Any]) -> None:
        """A write that moves neither a case nor the outbox (a reply's draft, every pause in typing): on
        the writer thread, in order with the actions, without the outbox recount and alert check after one."""
        self._off_ui_thread(self.jobs.writes, work, done, refused, job="actions")

    def after_write(self) -> None:
        """After an agent's action: the outbox count may have moved, a case may be answered."""
        self.refresh_header()
        self.check_alerts(spikes=False)

    def _off_ui_thread(self, pool: Executor, work: Callable[[], Result], done: Callable[[Result], Any],
                       refused: Callable[[str], Any], *, job: str, after: Callable[[], Any] | None = None,
                       latest: object = None) -> None:
        def attempt() -> tuple[bool, Any]:
            try:
                return True, work()
            except REFUSALS as error:
                return False, str(error)
            except StoreFailure as error:  # locked too long, disk full, a damaged file: in plain words
                return False, store_trouble(error)

        def answer(outcome: tuple[bool, Any]) -> None:
            worked, value = outcome
            if worked:
                done(value)
            else:
                refused(value)
            if after is not None:
                after()

        if latest is None:
            self.jobs.deliver(pool.submit(attempt), answer, job=job)
        else:
            self.jobs.latest(latest, pool, attempt, answer, job=job)

    def tell(self, problem: str) -> None:
        """Say a problem the agent must see, wherever they are (its words may quote store text)."""
        self.notify(clean(problem), severity="error", markup=False)

    def open_case(self, case_id: int) -> None:
        """Show a case, once read. One case screen is kept and shows each case opened while it is not
        on screen: building a new screen (its header, footer keys and styles) took most of the time
        to open one. Of several cases asked for in a row, the last one opens. A case the kept screen
        holds already (read while the inbox cursor rested on it, see `read_ahead`) shows at once:
        changed since, it is read again as it shows."""
        self._opening += 1
        opening = self._opening
        kept = self._case_screen
        if kept is not None and kept not in self.screen_stack:
            if kept.case_id == case_id and kept.view.case["id"] == case_id:
                kept.show_again()
                self.push_screen(kept)
                return
            kept.expect(case_id)  # it shows this case next: changes since the read began show too

        def show(view: CaseView) -> None:
            if opening != self._opening:
                return
            screen = self._case_screen
            if screen is None:
                screen = self._case_screen = self.case_screen(view)
                self.install_screen(screen, name="case")
                self.collector.keep_what_lives()  # the inbox and the kept case screen: out of the full passes
            elif screen in self.screen_stack:  # open underneath (alerts on top of a case): a screen of its own
                screen = self.case_screen(view)
            else:
                screen.show_other(view)
            self.push_screen(screen)

        self.read(partial(read_case, self.store, case_id), show)

    def read_ahead(self, case_id: int) -> None:
        """The agent may open this case next (the inbox cursor rests on it): read it onto the kept case
        screen while that is hidden, so that opening it costs only the drawing. Unasked for, a failed
        read says nothing: opening the case says why."""
        kept, opening = self._case_screen, self._opening
        if kept is None or kept in self.screen_stack or kept.case_id == case_id:
            return
        kept.expect(case_id)

        def show(view: CaseView) -> None:
            if opening == self._opening and kept not in self.screen_stack and kept.case_id == case_id:
                kept.show_other(view)

        self.read(partial(read_case, self.store, case_id), show, lambda why: None, latest=(self, "read_ahead"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists every action of the current screen by name, with its key."""
        yield from super().get_system_commands(screen)
        seen = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            description = describe(binding, self.views)  # a number key by its view's name, or not at all
            if description and binding.action not in seen:
                seen.add(binding.action)
                # descriptions may hold macro names: text, never markup
                yield SystemCommand(escape(description), escape(f"key: {key}"),
                                    partial(self.run_action, binding.action, active.node))

    def action_dashboard(self) -> None:
        """The KPI dashboard, from any screen; the same key closes it."""
        from webcare_tui.screens.dashboard import DashboardScreen  # KPIs load when first asked for

        if isinstance(self.screen, DashboardScreen):
            self.pop_screen()
        else:
            self.push_screen(DashboardScreen())

    def action_toggle_help(self) -> None:
        """Every key of the screen on show, grouped, in a panel of its own (`?` or esc closes it)."""
        if isinstance(self.screen, KeysScreen):
            self.screen.dismiss(None)
            return
        screen = self.screen
        name = type(screen).__name__.removesuffix("Screen").lower() or "this screen"
        self.push_screen(KeysScreen(key_rows(screen, self.views, self.macros.macros), f"Keys: {name}"))

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        runner = SyncRunner(self.store, self.connectors, self.config.threading, on_status=self.on_sync_status,
                            clock=self.clock, router=router_for(self.config, self.store, self.clock, self.rules))
        # Chatwoot's realtime links wake the sync for a conversation within a second; polling stays the
        # fallback. On this event loop: `wake` sets an asyncio.Event the sync waits on.
        cables = cables_for(self.connectors, runner.wake, live=self.live, health=self.supervisor,
                            on_update=self.on_live_update)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.supervisor.run("sync", partial(runner.run, interval=5.0)))
            for cable in cables:
                group.create_task(self.supervisor.run(cable.name, cable.run))

    def on_live_update(self, update: LiveUpdate) -> None:
        """A realtime link saw someone start or stop typing, or open or leave a case (on this event loop)."""
        if update.kind in ("typing", "open"):
            self.live_changed.publish(update.account)

    def agent_name(self, agent: str) -> str:
        """A teammate's name as the config's [team] gives it (else their id), fit to show: an id read from
        the helpdesk is the platform's text."""
        named = next((str(member["name"]) for member in self.config.team
                      if member.get("id") == agent and member.get("name")), agent)
        return clean(named, single_line=True)[:40]

    def cases_opened_in(self, account: str) -> Callable[[], dict[int, list[str]]]:
        """A read (for the reader thread) of the cases of `account` someone else has open now, with their
        names: the conversations are taken from LiveState here, on the UI thread."""
        me = self.config.agent.id
        return self._cases_of(account, {thread: [self.agent_name(agent) for agent in agents if agent != me]
                                        for thread, agents in self.live.open_threads(account).items()})

    def others_open(self, account: str, external_id: str | None) -> list[str]:
        """Who else has the conversation of this message open now (team mode), by name."""
        if not external_id:
            return []
        me = self.config.agent.id
        return [self.agent_name(agent) for agent in self.live.open_by(account, thread_of(external_id)) if agent != me]

    def set_open(self, account: str | None, external_id: str | None) -> None:
        """The agent has this conversation open now (None: none): teammates' consoles are told through the
        helpdesk (best effort, off the UI; a platform that cannot say it ignores it), the case left before
        is cleared, and the marker renewed while it stays open."""
        wanted = (account, external_id) if account and external_id else None
        was = self._open
        if _conversation_key(wanted) == _conversation_key(was):
            self._open = wanted  # the same conversation (a newer message of it): nothing to say
            return
        self._open = wanted
        if was is not None:
            self._say_open(*was, on=False)
        if wanted is not None:
            self._say_open(*wanted, on=True)

    def _renew_open(self) -> None:
        if self._open is not None:
            self._say_open(*self._open, on=True)

    def _say_open(self, account: str, external_id: str, *, on: bool) -> None:
        self.run_worker(self._tell_open(account, external_id, on), group="open", exit_on_error=False)

    async def _tell_open(self, account: str, external_id: str, on: bool) -> None:
        connector = self.connectors.get(account)
        if connector is None:
            return
        until = int(self.clock()) + OPEN_FOR if on else None
        async with self._open_said:  # a clear never overtakes the mark before it
            try:
                await connector.set_open(external_id, self.config.agent.id, until)
            except ConnectorError as error:  # nobody waits on it: logged, never shown as a failure
                log.info("open case not %s %s: %s", "marked on" if on else "cleared on", account,
                         connector.safe(error))

    async def action_quit(self) -> None:
        """Quit, after taking our marker off the case open (best effort, a few seconds at most)."""
        if self._open is not None:
            account, external_id = self._open
            self._open = None
            try:
                async with asyncio.timeout(QUIT_WAIT):  # not wait_for: on 3.11 it can drop a cancellation
                    await self._tell_open(account, external_id, False)
            except TimeoutError:
                log.info("open case not cleared on %s before quitting: no answer in %.0f s", account, QUIT_WAIT)
        self.exit()

    def cases_typed_in(self, account: str) -> Callable[[], dict[int, list[str]]]:
        """A read (for the reader thread) of the cases of `account` someone else is typing in now, with
        their names: the conversations are taken from LiveState here, on the UI thread."""
        me = self.config.agent.id
        return self._cases_of(account, {thread: [typist.name for typist in typists if typist.agent != me]
                                        for thread, typists in self.live.typing_threads(account).items()})

    def _cases_of(self, account: str, threads: dict[str, list[str]]) -> Callable[[], dict[int, list[str]]]:
        """A read (for the reader thread) of the case of each conversation of `account` that names someone:
        case id → those names."""
        connector, store = self.connectors.get(account), self.store

        def read() -> dict[int, list[str]]:
            if connector is None:
                return {}
            found = {thread: store.case_of_thread(connector.platform, thread) for thread, names in threads.items() if names}
            return {case_id: threads[thread] for thread, case_id in found.items() if case_id is not None}

        return read

    def others_typing(self, account: str, external_id: str | None) -> list[str]:
        """Who else is writing in the conversation of this message now (team mode), by name."""
        if not external_id:
            return []
        me = self.config.agent.id
        return [typist.name for typist in self.live.typing(account, thread_of(external_id)) if typist.agent != me]

    def set_typing(self, account: str, external_id: str | None, on: bool) -> None:
        """Tell the helpdesk that the agent is (no longer) writing a reply in this conversation; best
        effort, off the UI (a platform without typing status ignores it)."""
        connector = self.connectors.get(account)
        if connector is None or not external_id:
            return

        async def say() -> None:
            try:
                await connector.set_typing(external_id, on)
            except ConnectorError as error:  # nobody waits on it: logged, never shown as a failure
                log.info("typing status not sent to %s: %s", account, connector.safe(error))

        self.run_worker(say(), group="typing", exit_on_error=False)

    @work(exclusive=True, group="outbox", exit_on_error=False)
    async def run_outbox(self) -> None:
        worker = OutboxWorker(self.store, self.connectors)
        await self.supervisor.run("outbox", partial(worker.run, on_delivery=self.on_delivery,
                                                    on_round=lambda: self.supervisor.succeeded("outbox")))

    def on_delivery(self, deliveries: list[Delivery]) -> None:
        """A delivery round did something: the header's count, and the screens showing those cases."""
        self.refresh_header()
        self.store_changed.publish(frozenset(d.case_id for d in deliveries if d.case_id is not None))

    def watch_store(self) -> None:
        """Notice writes by other programs (an import, `macro apply`, another console): SQLite's
        data_version moves with their commits, not with ours (the sync's and the outbox's announce
        the cases they touched, an agent's action refreshes its screen). Read off the UI thread."""
        def seen(version: int | None) -> None:
            if version is None:  # our own write under way: it announces itself
                return
            if self._data_version is not None and version != self._data_version:
                self.store_changed.publish(None)
            self._data_version = version

        # on the writer's thread: data_version is the writer connection's, and the counts may be busy
        self.jobs.latest("store watch", self.jobs.writes, self.store.data_version, seen, job="store watch")

    def on_job_done(self, message: JobDone) -> None:
        if message.error is None:
            self.supervisor.succeeded(message.job)
        else:
            self.supervisor.failed(message.job, message.error)

    def on_health(self, health: Health) -> None:
        """A worker stopped or works again: the header says so at once, and a notice tells why."""
        if not health.up:
            retry = f"; it starts again in {health.retry_in:.0f} s" if health.retry_in else ""
            self.notify(f"{health.name} stopped: {health.problem}{retry}", title="background work", severity="error",
                        timeout=10, markup=False)
        self.update_header()

    def update_header(self) -> None:
        """Who is signed in, each account's sync state (or why the sync is down), what waits in the
        outbox, any background work that is down; then the alerts (see `show_status`)."""
        down = {health.name: health for health in self.supervisor.down()}
        parts = [self.config.agent.name]
        if "sync" in down:  # never "online" while nothing syncs
            parts.append("sync stopped")
        else:
            parts += [f"{account} {self.sync_states.get(account, 'starting')}" for account in self.connectors]
        waiting = "…" if self.outbox_count is None else self.outbox_count
        parts.append(f"outbox {waiting}" + (" (not sending)" if "outbox" in down else ""))
        parts += [f"{health.name} down: {health.problem}" for name, health in down.items()
                  if name not in ("sync", "outbox")]
        self.show_status(" · ".join(parts))

    @property
    def status_text(self) -> str:
        """The header line in full (what a wide terminal shows)."""
        return self.header_line.text

    def refresh_header(self) -> None:
        """Count the outbox again (in the background), then redraw the header."""
        def counted(waiting: int) -> None:
            self.outbox_count = waiting
            self.update_header()

        self.update_header()
        self.jobs.latest("outbox count", self.jobs.counts, self.store.outbox_waiting, counted)

    def show_status(self, status: str) -> None:
        """The header line: `status` and the alerts, repainted in place (see `StatusHeader`)."""
        alerts: tuple[str, ...] = ()
        if self.alerts:  # how many of each kind and the most urgent; narrower, the counts and the key
            counts = summary(self.alerts)
            alerts = (f"⚠ {counts}: {self.alerts[0].text} · ! lists them", f"⚠ {counts} · ! lists them",
                      f"! {counts}")
        self.header_line = HeaderLine(status, alerts)
        if not self.screen_stack:  # closing: a job that ended meanwhile has no header to repaint
            return
        for header in self.screen.query(StatusHeader):
            header.refresh()

    def check_alerts(self, *, spikes: bool = True) -> None:
        """Look for alerts off the UI thread; ring for new ones when the config asks. Without `spikes`
        (after a change to the store): the deadlines and negative voices only, the spikes kept from
        the last full check (every 30 s)."""
        kpi = self.kpi_settings
        work = partial(check_alerts, self.store, int(self.clock()), self.alert_settings, kpi.deadline_for,
                       min([kpi.deadline, *kpi.deadlines.values()]), spikes=spikes)

        def show(news: AlertNews) -> None:
            self.alerts = news.alerts
            if news.fresh and self.alert_settings.bell:
                self.bell()
            self.update_header()
            self.alerts_checked.set()
            if news.changed:
                self.alerts_changed.publish(news.alerts)

        # one of each kind at a time, the newest asked for run once more after it, after a pause (see
        # Background.latest): a busy store asks after every commit
        self.jobs.latest("alerts" if spikes else "deadline alerts", self.jobs.counts,
                         lambda: self.alert_watch.news(work(), spikes=spikes), show, job="alerts", pause=REPEAT_PAUSE)

    def action_alerts(self) -> None:
        """The alerts, from any screen; the same key closes them."""
        if isinstance(self.screen, AlertsScreen):
            self.pop_screen()
            return
        self.push_screen(AlertsScreen())
        self.check_alerts(spikes=False)  # the times it says, as of now

    def on_sync_status(self, status: SyncStatus) -> None:
        self.supervisor.succeeded("sync")  # a round ended: the sync works, whatever the platform said
        label = status.state if not status.error else f"{status.state}: {clean(status.error, single_line=True)}"
        self.sync_states[status.account] = label
        self.refresh_header()
        if status.skipped:  # never silently: what the platform sent that could not be taken in
            self.notify("\n".join(clean(reason, single_line=True) for reason in status.skipped[:5]),
                        title=f"{status.account}: {len(status.skipped)} item(s) skipped", severity="warning",
                        markup=False)
        if status.cases:  # new messages, or a teammate's change in the helpdesk
            self.store_changed.publish(status.cases)


def _conversation_key(opened: tuple[str, str] | None) -> tuple[str, str] | None:
    """(account, thread) of an (account, external id): two messages of one conversation are one."""
    return None if opened is None else (opened[0], thread_of(opened[1]))


def make_app(config: Config, store: Store, connectors: dict[str, Connector] | None = None,
             clock: Callable[[], float] = time.time) -> WebcareApp:
    """The app on `store`; connectors default to the configured accounts (or the demo)."""
    return WebcareApp(config, store, build_connectors(config) if connectors is None else connectors, clock)

