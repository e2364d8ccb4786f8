"""Provides `CaseScreen`: one conversation with its author, and the actions on it.

A reply draft waiting for a lead shows in the conversation; a lead approves it (A),
edits and approves it (E) or rejects it with a reason (X). An agent who needs approval
sends replies for approval instead of to the outbox.
"""

from __future__ import annotations

import webbrowser
from collections import Counter
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from webcare_tui.approvals import ApprovalError, Approvals, is_lead, leads, needs_approval
from webcare_tui.cases import PRIORITIES, CaseError, next_priority
from webcare_tui.outbox import UNDELIVERED, ReplyError, is_draft, reply_visibility, signature_for
from webcare_tui.safe_text import clean
from webcare_tui.screens.macro_keys import MacroKeys
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.sentiment import author_sentiment, sentiment_label
from webcare_tui.store import StoreError
from webcare_tui.widgets.footer import Footer
from webcare_tui.widgets.notice import Notice
from webcare_tui.widgets.status_header import StatusHeader


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch).strftime("%a %d %b %H:%M")


class CaseScreen(MacroKeys):
    scope = "case"
    DEFAULT_CSS = """
    #title { height: auto; background: $boost; padding: 0 1; }
    #conversation { width: 1fr; }
    #author { width: 34; border-left: solid $accent; padding: 0 1; }
    .message { margin: 0 1 1 1; padding: 0 1; }
    .in { border-left: thick $success; }
    .out { border-left: thick $primary; margin-left: 6; }
    .memo { border-left: thick $warning; background: $warning 10%; }
    .draft { border-left: thick $secondary; margin-left: 6; background: $secondary 10%; }
    .rejected { border-left: thick $error; margin-left: 6; color: $text-muted; }
    .event { color: $text-muted; margin: 0 1 0 1; }
    #notice { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="case.back"),
        Binding("r", "reply('same')", "Reply", id="case.reply"),
        Binding("R", "reply('private')", "Reply privately", id="case.reply_private"),
        Binding("a", "assign", "Assign", id="case.assign"),
        Binding("l", "label", "+Label", id="case.label_add"),
        Binding("L", "unlabel", "-Label", id="case.label_remove"),
        Binding("n", "memo", "Memo", id="case.memo"),
        Binding("p", "status('pending')", "Pending", id="case.pending"),
        Binding("c", "status('closed')", "Close", id="case.close"),
        Binding("o", "status('open')", "Reopen", id="case.reopen"),
        Binding("M", "merge", "Merge", id="case.merge"),
        Binding("s", "split", "Split", id="case.split"),
        Binding("P", "priority", "Priority", id="case.priority"),
        Binding("e", "earlier", "Other case", id="case.other"),
        Binding("b", "browser", "Open link", id="case.open_link"),
        Binding("t", "retry", "Retry send", show=False, id="case.retry_send"),
        Binding("x", "discard", "Discard send", show=False, id="case.discard_send"),
        Binding("A", "approve", "Approve", id="case.approve"),
        Binding("E", "edit_approve", "Edit+approve", id="case.edit_approve"),
        Binding("X", "reject", "Reject", id="case.reject"),
        *MacroKeys.MACRO_BINDINGS,
    ]

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.stale = False  # something changed while another screen was on top
        self.drafts: list[dict] = []  # replies in this case waiting for a lead
        self._footer_drafts: bool | None = None  # what the footer's approval keys were shown for
        self._shown: list[tuple[str, Text, str]] = []  # the timeline on screen, and its widgets
        self._widgets: list[Static] = []

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(id="title")
        with Horizontal():
            yield VerticalScroll(id="conversation")
            yield Static(id="author")
        yield Notice()
        yield Footer()

    def on_mount(self) -> None:
        self.install_macro_keys()
        self.show_case()
        self.console.store_changed.subscribe(self, self.store_changed)

    def store_changed(self, cases: frozenset[int] | None) -> None:
        """A new message, a delivery, a teammate's or another process's change: the case on screen
        follows at once; under another screen, when it is shown again."""
        if cases is not None and self.case_id not in cases:
            return
        if self.is_current:
            self.show_case()
        else:
            self.stale = True

    def target_ids(self) -> list[int]:
        return [self.case_id]

    def show_other(self, case_id: int) -> None:
        """Show another case on this screen (kept by the app between cases)."""
        self.case_id = case_id
        self.notice("")
        self.show_case()

    def on_screen_resume(self) -> None:
        if self.stale:  # the store changed while another screen was on top
            self.show_case()

    def after_action(self, changed: list[int] | None = None) -> None:
        self.show_case()
        self.console.update_header()

    @property
    def actor(self) -> str:
        return self.console.config.agent.id

    @property
    def approvals(self) -> Approvals:
        return Approvals(self.console.store, self.console.config.team, clock=self.console.clock)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The approval keys show only while a draft waits in this case."""
        if action in ("approve", "edit_approve", "reject"):
            return bool(self.drafts)
        return True

    def show_case(self) -> None:
        self.stale = False
        store = self.console.store
        case = store.get_case(self.case_id)
        self.case = case
        author = clean(f"{case['author_handle'] or ''} {case['author_name'] or ''}".strip(), single_line=True)
        title = Text.assemble(
            (f"Case {case['id']}  ", "bold"), (case["status"].upper(), "bold reverse"), "  ",
            (case["platform"], "bold"), "  ", (author, "bold"), "  owner: ", (clean(case["owner"] or "nobody", single_line=True), "green"),
            "  ", (clean(" ".join(f"#{label}" for label in case["labels"]), single_line=True), "italic cyan"),
            (f"  priority {case['priority']}" if case["priority"] else "", "bold red"),
        )
        self.query_one("#title", Static).update(title)
        self._show_timeline(self._timeline(case["id"]))
        self.query_one("#author", Static).update(self._author_panel(case))
        if self._footer_drafts is not bool(self.drafts):  # the footer rebuilds all its keys: only when needed
            self._footer_drafts = bool(self.drafts)
            self.refresh_bindings()

    def _show_timeline(self, items: list[tuple[str, Text, str]]) -> None:
        """Show (key, content, classes) items, touching only what changed: an action usually adds a
        line or two at the end, and remounting a long case's every widget took ~150 ms."""
        conversation = self.query_one("#conversation", VerticalScroll)
        shown, widgets = self._shown, self._widgets
        if [key for key, _, _ in items[:len(shown)]] != [key for key, _, _ in shown]:  # not just added to
            conversation.remove_children()
            shown, widgets = [], []
        for widget, item, before in zip(widgets, items, shown):
            if item[1:] != before[1:]:  # a reply's delivery state, a draft's: in place
                widget.update(item[1])
                widget.set_classes(item[2])
        added = [Static(content, classes=classes) for _, content, classes in items[len(shown):]]
        if added:
            following = not shown or conversation.scroll_y >= conversation.max_scroll_y  # else the agent reads back
            conversation.mount_all(added)
            if following:
                conversation.scroll_end(animate=False)
        self._shown, self._widgets = items, widgets + added

    def _timeline(self, case_id: int) -> list[tuple[str, Text, str]]:
        """Messages, memos and events in time order as (key, content, classes); customer text always
        as plain text."""
        store = self.console.store
        items: list[tuple[int, int, str, Text, str]] = []
        outbox = store.case_outbox(case_id)  # deliveries and drafts, read once
        delivery = {row["payload"]["message_id"]: row for row in outbox if row["kind"] == "reply"}
        self.message_ids = []
        for number, message in enumerate(store.case_messages(case_id), start=1):
            self.message_ids.append(message["id"])
            inbound = message["direction"] == "in"
            who = "customer" if inbound else f"→ {clean(message['agent'] or 'us', single_line=True)}"
            head = Text.assemble((f"#{number} ", "bold dim"), (f"{_when(message['created_at'])}  ", "dim"), (who, "bold"),
                                 (f"  {message['visibility']}", "italic yellow" if message["visibility"] == "private" else "dim"))
            if (row := delivery.get(message["id"])) is not None and row["state"] != "sent":
                state = row["state"] + (f": {clean(row['last_error'], single_line=True)}" if row["last_error"] else "")
                head.append(f"  [{state}]", "bold red" if row["state"] in UNDELIVERED else "yellow")
            body = Text(clean(message["text"]))
            items.append((message["created_at"], 1, f"message {message['id']}", Text.assemble(head, "\n", body),
                          "message " + ("in" if inbound else "out")))
        items += self._drafts(outbox)
        for memo in store.case_memos(case_id):
            text = Text.assemble((f"{_when(memo['created_at'])}  memo by {clean(memo['agent'], single_line=True)}\n", "dim"), clean(memo["text"]))
            items.append((memo["created_at"], 2, f"memo {memo['id']}", text, "message memo"))
        for event in store.case_events(case_id):
            if event["kind"] == "memo":
                continue
            detail = ", ".join(f"{k} {v}" for k, v in event["detail"].items() if v not in (None, [], ""))
            # the actor may be a teammate's id from the helpdesk (team mode): cleaned like customer text
            line = Text(f"{_when(event['at'])} · {clean(event['actor'], single_line=True)} · {event['kind']} "
                        f"{clean(detail, single_line=True)}")
            items.append((event["at"], 0, f"event {event['id']}", line, "event"))
        items.sort(key=lambda item: (item[0], item[1]))
        return [(key, content, classes) for _, _, key, content, classes in items]

    def _drafts(self, outbox: list[dict]) -> list[tuple[int, int, str, Text, str]]:
        """Replies waiting for a lead, and those a lead rejected (from the case's outbox rows): never
        sent, so never shown as messages."""
        team = self.console.config.team
        drafts = [row for row in outbox if is_draft(row) and row["state"] in ("awaiting_approval", "rejected")]
        self.drafts = [row for row in drafts if row["state"] == "awaiting_approval"]
        items = []
        for row in drafts:
            payload = row["payload"]
            head = Text.assemble((f"{_when(row['created_at'])}  ", "dim"), (f"draft by {clean(payload['agent'], single_line=True)}", "bold"),
                                 (f"  {payload['visibility']}", "dim"))
            if row["state"] == "awaiting_approval":
                who = ", ".join(leads(team)) or "a lead"
                keys = " · A approve · E edit and approve · X reject" if is_lead(team, self.actor) else ""
                head.append(f"  [awaiting approval by {who}]{keys}", "bold magenta")
                classes = "message draft"
            else:
                head.append(f"  [not approved: {clean(row['last_error'] or '', single_line=True)}]", "bold red")
                classes = "message rejected"
            items.append((row["created_at"], 1, f"draft {row['id']}", Text.assemble(head, "\n", clean(payload["text"])),
                          classes))
        return items

    def _author_panel(self, case: dict) -> Text:
        store = self.console.store
        text = Text()
        text.append(clean(case["author_handle"] or "", single_line=True) + "\n", "bold")
        text.append(clean(case["author_name"] or "", single_line=True) + "\n")
        text.append(f"{case['author_followers'] or 0:,} followers · {case['author_type']}\n", "dim")
        moods = store.author_moods(case["author_id"])
        languages = Counter(language for language, _ in moods if language)
        overall = author_sentiment(score for _, score in moods)
        language = languages.most_common(1)[0][0] if languages else "language unknown"
        mood = f"{sentiment_label(overall)} ({overall:+.2f})" if overall is not None else "no sentiment yet"
        text.append(f"{language} · overall {mood}\n\n", "dim")
        text.append("Cases (e opens one)\n", "bold underline")
        for other in store.author_cases(case["author_id"]):
            marker = "▸ " if other["id"] == case["id"] else "  "
            text.append(f"{marker}{other['id']} {other['status']} {_when(other['created_at'])}\n")
        crm = store.author_crm(case["author_id"])
        if crm:
            text.append("\nCRM\n", "bold underline")
            for key, value in crm.items():
                text.append(f"{clean(str(key), single_line=True)}: ", "dim")
                text.append(clean(str(value), single_line=True)[:60] + "\n")
        memos = store.author_memos(case["author_id"])
        if memos:
            text.append("\nMemos on this customer\n", "bold underline")
            for memo in memos[:5]:
                text.append(f"{clean(memo['agent'], single_line=True)}: ", "dim")
                text.append(clean(memo["text"], single_line=True)[:60] + "\n")
        return text

    def notice(self, text: str) -> None:
        self.query_one(Notice).say(text)

    def _act(self, action, done: str) -> None:
        try:
            action()
        except (CaseError, ReplyError, StoreError, ApprovalError) as error:
            self.notice(str(error))
            return
        self.show_case()
        self.console.update_header()
        self.notice(done)

    def action_back(self) -> None:
        self.console.pop_screen()

    def action_status(self, status: str) -> None:
        self._act(lambda: self.console.cases.set_status(self.case_id, status, actor=self.actor), f"status: {status}")

    def action_assign(self) -> None:
        def assign(agent: str | None) -> None:
            if agent:
                self._act(lambda: self.console.cases.assign(self.case_id, agent.strip(), actor=self.actor),
                          f"handed over to {agent.strip()}")

        self.console.push_screen(PromptScreen("Hand over to:", suggestions=self.console.agent_ids()), assign)

    def action_label(self) -> None:
        def add(label: str | None) -> None:
            if label:
                self._act(lambda: self.console.cases.label(self.case_id, self.actor, add=[label]), f"+{label}")

        self.console.push_screen(PromptScreen("Add label:", suggestions=self.console.store.label_names()), add)

    def action_unlabel(self) -> None:
        def remove(label: str | None) -> None:
            if label:
                self._act(lambda: self.console.cases.label(self.case_id, self.actor, remove=[label]), f"-{label}")

        self.console.push_screen(PromptScreen("Remove label:", suggestions=list(self.case["labels"])), remove)

    def action_memo(self) -> None:
        def memo(text: str | None) -> None:
            if text:
                self._act(lambda: self.console.cases.memo(self.case_id, self.actor, text), "memo added")

        self.console.push_screen(PromptScreen("Memo (internal, never sent):"), memo)

    def action_merge(self) -> None:
        def merge(other: str | None) -> None:
            if other and other.strip().isdigit():
                self._act(lambda: self.console.cases.merge(self.case_id, int(other), actor=self.actor),
                          f"merged case {other} into this one")
            elif other:
                self.notice("give the number of the case to merge into this one")

        self.console.push_screen(PromptScreen("Merge which case into this one (case number):"), merge)

    def action_reply(self, visibility: str) -> None:
        from webcare_tui.screens.reply import ReplyScreen
        from webcare_tui.templates import case_values

        config = self.console.config
        context = self.console.store.reply_context(self.case_id)
        visibility = reply_visibility(context, visibility)
        signature = signature_for(self.case["platform"], config.agent.signature)
        values = case_values(self.case, config.agent.name, config.agent.initials, signature)

        for_approval = needs_approval(config.team, self.actor)

        def send(result: tuple[str, str] | None) -> None:
            if result is not None:
                text, chosen = result
                self._act(lambda: self.console.outbox.queue_reply(self.case_id, text, agent=self.actor,
                                                              visibility=chosen, approval=for_approval),
                          f"{chosen} reply sent for approval" if for_approval else f"{chosen} reply queued")

        author = clean(self.case["author_handle"] or self.case["author_name"] or "", single_line=True)
        self.console.push_screen(ReplyScreen(platform=self.case["platform"], recipient=author, visibility=visibility,
                                         signatures=config.agent.signature, blocks=config.raw.get("blocks", {}),
                                         values=values, purpose="approval" if for_approval else "send"), send)

    # -- approvals (a lead on a case with a draft) ---------------------------------

    def _waiting_draft(self, verb: str) -> tuple[dict, str] | None:
        """The oldest draft waiting in this case and a note on any others, once the agent may `verb` it."""
        drafts = self.console.store.case_drafts(self.case_id)
        if not drafts:
            self.notice("no reply waits for approval in this case")
            return None
        try:
            self.approvals.check_lead(self.actor, verb)
        except ApprovalError as error:
            self.notice(str(error))
            return None
        return drafts[0], f" ({len(drafts) - 1} more waiting)" if len(drafts) > 1 else ""

    def action_approve(self) -> None:
        if found := self._waiting_draft("approve"):
            draft, more = found
            self._act(lambda: self.approvals.approve(draft["id"], self.actor),
                      f"approved {draft['payload']['agent']}'s reply: queued{more}")

    def action_edit_approve(self) -> None:
        from webcare_tui.screens.reply import ReplyScreen

        found = self._waiting_draft("approve")
        if found is None:
            return
        draft, more = found

        def approve(result: tuple[str, str] | None) -> None:
            if result is not None:
                self._act(lambda: self.approvals.approve(draft["id"], self.actor, text=result[0]),
                          f"approved {draft['payload']['agent']}'s reply with your edits: queued{more}")

        author = clean(self.case["author_handle"] or self.case["author_name"] or "", single_line=True)
        payload = draft["payload"]
        self.console.push_screen(ReplyScreen(platform=self.case["platform"], recipient=author,
                                         visibility=payload["visibility"], signatures={}, blocks={}, values={},
                                         text=payload["text"], purpose="approve"), approve)

    def action_reject(self) -> None:
        found = self._waiting_draft("reject")
        if found is None:
            return
        draft, more = found
        agent = draft["payload"]["agent"]

        def reject(reason: str | None) -> None:
            if reason is not None:
                self._act(lambda: self.approvals.reject(draft["id"], self.actor, reason),
                          f"rejected {agent}'s reply; they see your reason on the case{more}")

        self.console.push_screen(PromptScreen(f"Why is {agent}'s reply not approved? (they see it on the case)"), reject)

    def _undelivered(self) -> dict | None:
        row = self.console.outbox.last_undelivered(self.case_id)
        if row is None:
            self.notice("no failed reply in this case")
        return row

    def action_retry(self) -> None:
        if row := self._undelivered():
            self._act(lambda: self.console.outbox.retry(row["id"], actor=self.actor), "sending again")

    def action_discard(self) -> None:
        if row := self._undelivered():
            self._act(lambda: self.console.outbox.discard(row["id"], actor=self.actor), "reply discarded")

    def action_priority(self) -> None:
        new = next_priority(self.case["priority"])
        self._act(lambda: self.console.cases.set_priority(self.case_id, new, actor=self.actor),
                  f"priority {new} ({PRIORITIES[new]})")

    def action_split(self) -> None:
        def split(number: str | None) -> None:
            if not number:
                return
            if not number.strip().lstrip("#").isdigit() or not 1 <= int(number.strip().lstrip("#")) <= len(self.message_ids):
                self.notice(f"give a message number from #1 to #{len(self.message_ids)}")
                return
            message_id = self.message_ids[int(number.strip().lstrip("#")) - 1]
            try:
                new_id = self.console.cases.split(message_id, actor=self.actor)
            except CaseError as error:
                self.notice(str(error))
                return
            self.show_case()
            self.notice(f"split into case {new_id} (e opens it)")

        self.console.push_screen(PromptScreen("Split off from message number (it and the later ones move to a new case):"),
                             split)

    def action_earlier(self) -> None:
        others = [str(c["id"]) for c in self.console.store.author_cases(self.case["author_id"]) if c["id"] != self.case_id]
        if not others:
            self.notice("this customer has no other case")
            return

        def open_case(number: str | None) -> None:
            if number and number.strip() in others:
                self.console.push_screen(CaseScreen(int(number)))
            elif number:
                self.notice(f"this customer's other cases: {', '.join(others)}")

        self.console.push_screen(PromptScreen(f"Open which case ({', '.join(others)})?", suggestions=others,
                                          value=others[0]), open_case)

    def action_browser(self) -> None:
        urls = [m["url"] for m in self.console.store.case_messages(self.case_id) if m["url"]]
        if not urls:
            self.notice("this case has no link")
            return
        webbrowser.open(urls[-1])
        self.notice(f"opened {clean(urls[-1], single_line=True)}")
