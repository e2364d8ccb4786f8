"""Provides `CaseScreen`: one conversation with its author, and the actions on it.

A reply draft waiting for a lead shows in the conversation; a lead approves it (A),
edits and approves it (E) or rejects it with a reason (X). An agent who needs approval
sends replies for approval instead of to the outbox.

The header says by when to act and, on a platform with a reply window, how long free-form
replies are still allowed; and whether a reply begun in the composer waits as a draft (it
comes back with `r`, also after a restart).

Suggested answers (`webcare_tui.suggest`) are computed in the background as a case opens, so they
never delay it; ctrl+g shows them (`SuggestionsScreen`), and a number inserts a reply into the
composer or previews a macro. The composer can save what was typed as a text block (ctrl+o).
"""

from __future__ import annotations

import webbrowser
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from webcare_tui.approvals import ApprovalError, Approvals, is_lead, leads, needs_approval
from webcare_tui.case_view import CaseView, read_case
from webcare_tui.cases import PRIORITIES, next_priority
from webcare_tui.deadlines import DUE_SOON, case_act_before, deadline_words, window_closes, window_words
from webcare_tui.history import describe, names_actor
from webcare_tui.message_format import shown_time
from webcare_tui.outbox import UNDELIVERED, is_draft, reply_visibility
from webcare_tui.safe_text import clean, shown_author, unsafe_link
from webcare_tui.screens.macro_keys import MacroKeys
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.screens.suggestions import SuggestionsScreen
from webcare_tui.sentiment import author_sentiment, sentiment_label
from webcare_tui.suggest import MacroSuggestion, ReplySuggestion, Suggestions
from webcare_tui.templates import TemplateError
from webcare_tui.widgets.footer import Footer
from webcare_tui.widgets.notice import Notice
from webcare_tui.widgets.status_header import StatusHeader
from webcare_tui.widgets.timeline import Item, Timeline

CLOCK_EVERY = 30  # seconds between redraws of the header's times while nothing else changes
DRAFT_WORDS = 40  # characters of a draft the header shows


def _when(epoch: int) -> str:
    return shown_time(epoch, "%a %d %b %H:%M")  # "@<epoch>" for a time no calendar shows


def first_words(text: str, room: int = DRAFT_WORDS) -> str:
    """The start of `text` on one line, cut after a whole word with "…" when longer than `room`."""
    line = " ".join(clean(text, single_line=True).split())
    if len(line) <= room:
        return line
    cut = line[:room].rsplit(" ", 1)[0] if " " in line[:room] else line[:room]
    return cut.rstrip() + "…"


class CaseScreen(MacroKeys):
    scope = "case"
    DEFAULT_CSS = """
    #title { height: auto; background: $boost; padding: 0 1; }
    #author { width: 34; border-left: solid $accent; padding: 0 1; }
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
        Binding("ctrl+g", "suggest", "Suggest", id="case.suggest"),
        *MacroKeys.MACRO_BINDINGS,
    ]

    def __init__(self, view: CaseView) -> None:
        super().__init__()
        self.view = view
        self.case_id = view.case["id"]
        self.case = view.case
        self.stale = False  # something changed while another screen was on top
        self._loading = 0  # the newest read of this case asked for: an older answer is dropped
        self._footer_drafts: bool | None = None  # what the footer's approval keys were shown for
        self._title, self._title_size = Text(), (0, 0)  # the header as shown, and its (width, lines)
        # the reply drafts the agent left here, by case, until the store's copy says the same (a case
        # opened again at once may be read before the draft's write is in)
        self._begun: dict[int, str] = {}
        # the suggestions for the case shown: None until they arrive (or `_suggest_problem` says why not)
        self._suggestions: Suggestions | None = None
        self._suggest_problem: str | None = None
        self._suggestions_stale = False  # the case changed since they were computed
        self._suggested_for: int | None = None  # the case they were last asked for
        self._suggestions_panel: SuggestionsScreen | None = None  # the open panel, filled in when they arrive
        self._saved_blocks: dict[str, str] = {}  # text blocks saved from the composer this session

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(id="title")
        with Horizontal():
            yield Timeline(id="conversation")
            yield Static(id="author")
        yield Notice()
        yield Footer()

    def on_mount(self) -> None:
        self.show(self.view)
        self.console.store_changed.subscribe(self, self.store_changed)
        self.console.live_changed.subscribe(
            self, lambda account: self._show_title() if self.is_current and account == self._conversation()[0] else None)
        self.set_interval(CLOCK_EVERY, self._tick)

    def _tick(self) -> None:
        if self.is_current:  # the act-before and reply window times move with the clock
            self._show_title()

    def store_changed(self, cases: frozenset[int] | None) -> None:
        """A new message, a delivery, a teammate's or another process's change: the case on screen
        follows at once; under another screen, when it is shown again."""
        if cases is not None and self.case_id not in cases:
            return
        self._suggestions_stale = True  # computed again when next asked for (an agent's reply changes the case too)
        if self.is_current:
            self.load()
        else:
            self.stale = True

    def target_ids(self) -> list[int]:
        return [self.case_id]

    def expect(self, case_id: int) -> None:
        """The app has begun to read `case_id` to show here (see `show_other`): a change to it from now
        on is read again when the screen is shown; one before is in what is shown. A read of the case
        shown before is no longer wanted."""
        self._loading += 1
        self.case_id = case_id
        self.stale = False

    def show_other(self, view: CaseView) -> None:
        """Show another case on this screen (kept by the app between cases), read since `expect`."""
        self.case_id = view.case["id"]
        self.notice("")
        self.show(view)

    def show_again(self) -> None:
        """Shown again as last read (the app found nothing changed, or reads it again as it shows):
        the times move with the clock, and the notice of before goes."""
        self.notice("")
        self._show_title()

    def on_screen_resume(self) -> None:
        self.console.set_open(*self._conversation())  # team mode: teammates see that this case is open here
        if self.stale:  # the store changed while another screen was on top
            self.load()
        if self._suggested_for != self.case_id:  # once shown (not while read ahead), and after it is drawn
            self.call_after_refresh(self.find_suggestions)  # (their Python work would slow that)

    def after_action(self) -> None:
        self.load()

    @property
    def actor(self) -> str:
        return self.console.config.agent.id

    @property
    def drafts(self) -> list[dict]:
        """Replies in this case waiting for a lead."""
        return self.view.drafts

    @property
    def approvals(self) -> Approvals:
        return Approvals(self.console.store, self.console.config.team, clock=self.console.clock)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The approval keys show only while a draft waits in this case."""
        if action in ("approve", "edit_approve", "reject"):
            return bool(self.drafts)
        return True

    def load(self) -> None:
        """Read the case again off the UI thread and show it; the screen keeps showing what it
        has until then."""
        self.stale = False
        self._loading += 1
        loading, case_id = self._loading, self.case_id

        def loaded(view: CaseView) -> None:
            if loading != self._loading or case_id != self.case_id:
                return
            if view == self.view and self.case is self.view.case:  # as shown (another case changed, or none):
                self._show_title()  # only the times move; under an import that is every read (bench/live.py)
            else:
                self.show(view)

        self.console.read(partial(read_case, self.console.store, case_id), loaded, latest=(self, "load"))

    @property
    def reply_draft(self) -> str:
        """The reply the agent began in this case and left in the composer ("" for none)."""
        return self._begun.get(self.case_id, self.view.reply_draft)

    def show(self, view: CaseView) -> None:
        self.view = view
        self.case = view.case
        if self._begun.get(view.case["id"]) == view.reply_draft:  # the store has it: it is the one from now on
            del self._begun[view.case["id"]]
        if self.is_current:  # read again: the conversation may be another now (a merge, a split)
            self.console.set_open(*self._conversation())
        self._show_title()
        self.query_one(Timeline).show(self._timeline(view))
        author, panel = self.query_one("#author", Static), self._author_panel(view)
        if panel != author.content:  # an update lays the screen out again
            author.update(panel)
        if self._footer_drafts is not bool(self.drafts):  # the footer rebuilds all its keys: only when needed
            self._footer_drafts = bool(self.drafts)
            self.refresh_bindings()

    def _show_title(self) -> None:
        case = self.case
        author = " ".join(part for part in (shown_author(case["author_handle"], None),
                                            shown_author(None, case["author_name"])) if part)
        title = Text.assemble(
            (f"Case {case['id']}  ", "bold"), (case["status"].upper(), "bold reverse"), "  ",
            (case["platform"], "bold"), "  ", (author, "bold"), "  owner: ", (clean(case["owner"] or "nobody", single_line=True), "green"),
            (f"  team {clean(case['team'], single_line=True)}" if case.get("team") else "", "magenta"),
            "  ", (clean(" ".join(f"#{label}" for label in case["labels"]), single_line=True), "italic cyan"),
            (f"  priority {case['priority']}" if case["priority"] else "", "bold red"),
        )
        widget = self.query_one("#title", Static)
        width = widget.content_region.width or self.size.width - 2
        lines: list[Text] = []
        for part in self._times():  # as many on a line as fit (never a line that starts with the separator)
            if lines and lines[-1].cell_len + 3 + part.cell_len <= width:
                lines[-1].append_text(Text.assemble(" · ", part))
            else:
                lines.append(Text.assemble(part))  # the part's style on it alone, not on the line
        for line in lines:
            title.append("\n")
            title.append_text(line)
        if title == self._title:  # as shown (the clock, a teammate's typing): no repaint
            return
        # only a title of more or fewer lines (a label, a draft) needs the layout pass that moves the
        # timeline (which keeps its end in view): that pass repaints the whole screen
        size = (width, len(title.wrap(self.app.console, width)))
        widget.update(title, layout=size != self._title_size)
        self._title, self._title_size = title, size

    def _times(self) -> list[Text]:
        """What the header says under the case line: by when to act, the platform's reply window, the draft,
        and in team mode who else is typing here or has the case open."""
        case, now = self.case, int(self.console.clock())
        platform = case["platform"]
        parts = []
        due = case_act_before(case["status"], platform, case["waiting_since"], case["last_inbound_at"],
                              self.console.kpi_settings.deadline_for(platform))
        if due is not None:
            style = "bold red" if due < now else "bold yellow" if due - now < DUE_SOON else "bold"
            parts.append(Text(deadline_words(due, now), style))
        visibility = self.view.reply_context.get("last_inbound_visibility")
        window = window_words(platform, case["last_inbound_at"], now, visibility)
        if window is not None:
            closes = window_closes(platform, case["last_inbound_at"], visibility) or now
            parts.append(Text(window, "bold red" if closes <= now else "yellow" if closes - now < 3600 else ""))
        if draft := self.reply_draft:
            parts.append(Text.assemble(("✎ draft: ", "bold magenta"), (first_words(draft), "italic")))
        if typing := self.console.others_typing(*self._conversation()):  # team mode: a teammate writes here
            names = clean(", ".join(typing), single_line=True)
            parts.append(Text(f"✍ {names} {'is' if len(typing) == 1 else 'are'} typing…", "bold yellow"))
        if opened := self.console.others_open(*self._conversation()):  # team mode: a teammate has it open too
            names = clean(", ".join(opened), single_line=True)
            parts.append(Text(f"👁 {names} {'has' if len(opened) == 1 else 'have'} it open", "bold cyan"))
        return parts

    def _conversation(self) -> tuple[str, str | None]:
        """The account and the customer's latest message: which conversation of the platform this is."""
        context = self.view.reply_context
        return context["last_inbound_account"] or context["account"], context["last_inbound_id"]

    def _timeline(self, view: CaseView) -> list[Item]:
        """Messages, memos and events in time order; customer text always as plain text."""
        items: list[tuple[int, int, str, Text, str]] = []
        delivery = {row["payload"]["message_id"]: row for row in view.outbox if row["kind"] == "reply"}
        for number, message in enumerate(view.messages, start=1):
            inbound = message["direction"] == "in"
            who = "customer" if inbound else f"→ {clean(message['agent'] or 'us', single_line=True)}"
            head = Text.assemble((f"#{number} ", "bold dim"), (f"{_when(message['created_at'])}  ", "dim"), (who, "bold"),
                                 (f"  {message['visibility']}", "italic yellow" if message["visibility"] == "private" else "dim"))
            if (row := delivery.get(message["id"])) is not None and row["state"] != "sent":
                state = row["state"] + (f": {clean(row['last_error'], single_line=True)}" if row["last_error"] else "")
                head.append(f"  [{state}]", "bold red" if row["state"] in UNDELIVERED else "yellow")
            body = Text(clean(message["text"]))
            items.append((message["created_at"], 1, f"message {message['id']}", Text.assemble(head, "\n", body),
                          "in" if inbound else "out"))
        items += self._drafts(view.outbox)
        for memo in view.memos:
            text = Text.assemble((f"{_when(memo['created_at'])}  memo by {clean(memo['agent'], single_line=True)}\n", "dim"), clean(memo["text"]))
            items.append((memo["created_at"], 2, f"memo {memo['id']}", text, "memo"))
        for event in view.events:
            if event["kind"] == "memo":
                continue
            # the actor may be a teammate's id from the helpdesk (team mode): cleaned like customer text;
            # a rule's or a platform's event names it in its wording
            actor = "" if names_actor(event["actor"]) else f"{clean(event['actor'], single_line=True)} · "
            line = Text(f"{_when(event['at'])} · {actor}{describe(event['kind'], event['detail'], event['actor'])}")
            items.append((event["at"], 0, f"event {event['id']}", line, "event"))
        items.sort(key=lambda item: (item[0], item[1]))
        return [Item(key, content, kind) for _, _, key, content, kind in items]

    def _drafts(self, outbox: list[dict]) -> list[tuple[int, int, str, Text, str]]:
        """Replies waiting for a lead, and those a lead rejected (from the case's outbox rows): never
        sent, so never shown as messages."""
        team = self.console.config.team
        drafts = [row for row in outbox if is_draft(row) and row["state"] in ("awaiting_approval", "rejected")]
        items = []
        for row in drafts:
            payload = row["payload"]
            head = Text.assemble((f"{_when(row['created_at'])}  ", "dim"), (f"draft by {clean(payload['agent'], single_line=True)}", "bold"),
                                 (f"  {payload['visibility']}", "dim"))
            if row["state"] == "awaiting_approval":
                who = ", ".join(leads(team)) or "a lead"
                keys = " · A approve · E edit and approve · X reject" if is_lead(team, self.actor) else ""
                head.append(f"  [awaiting approval by {who}]{keys}", "bold magenta")
                kind = "draft"
            else:
                head.append(f"  [not approved: {clean(row['last_error'] or '', single_line=True)}]", "bold red")
                kind = "rejected"
            items.append((row["created_at"], 1, f"draft {row['id']}", Text.assemble(head, "\n", clean(payload["text"])),
                          kind))
        return items

    def _author_panel(self, view: CaseView) -> Text:
        case = view.case
        text = Text()
        text.append(shown_author(case["author_handle"], None) + "\n", "bold")
        text.append(clean(case["author_name"] or "", single_line=True) + "\n")
        text.append(f"{case['author_followers'] or 0:,} followers · {case['author_type']}\n", "dim")
        moods = view.moods
        languages = Counter(language for language, _ in moods if language)
        overall = author_sentiment(score for _, score in moods)
        language = languages.most_common(1)[0][0] if languages else "language unknown"
        mood = f"{sentiment_label(overall)} ({overall:+.2f})" if overall is not None else "no sentiment yet"
        text.append(f"{language} · overall {mood}\n\n", "dim")
        text.append("Cases (e opens one)\n", "bold underline")
        for other in view.author_cases:
            marker = "▸ " if other["id"] == case["id"] else "  "
            text.append(f"{marker}{other['id']} {other['status']} {_when(other['created_at'])}\n")
        crm = view.crm
        if crm:
            text.append("\nCRM\n", "bold underline")
            for key, value in crm.items():
                text.append(f"{clean(str(key), single_line=True)}: ", "dim")
                text.append(clean(str(value), single_line=True)[:60] + "\n")
        memos = view.author_memos
        if memos:
            text.append("\nMemos on this customer\n", "bold underline")
            for memo in memos[:5]:
                text.append(f"{clean(memo['agent'], single_line=True)}: ", "dim")
                text.append(clean(memo["text"], single_line=True)[:60] + "\n")
        return text

    def notice(self, text: str) -> None:
        self.query_one(Notice).say(text)

    def _act(self, work: Callable[[], object], done: str, shows: dict[str, Any] | None = None,
             undone: Callable[[], object] | None = None, undo_as: str | None = None) -> None:
        """Do an action on the writer thread. Its effect shows at once (`shows`: the case's fields as
        the action leaves them); the case as stored follows, or why the action was refused (then
        `undone()` takes back what was shown). With `undo_as` (what it is called), `u` takes it back."""
        if shows:
            self.case = {**self.case, **shows}
            self._show_title()
        self.notice(f"{done} …")

        def written(_: object) -> None:
            self.notice(f"{done} · u undoes for {self.console.undo.grace} s" if undo_as else done)
            self.load()

        def refused(why: str) -> None:
            if self.is_current:
                self.notice(why)
            else:  # the agent went on: the refusal must still reach them
                self.console.notify(clean(why), title=f"case {self.case['id']}", severity="error", markup=False)
            if undone is not None:
                undone()
            self.load()

        self.console.act(work, written, refused, undo_as=(undo_as, [self.case_id]) if undo_as else None)

    def action_back(self) -> None:
        self.console.set_open(None, None)  # left: no longer open here (a case screen below says its own)
        self.console.pop_screen()

    def action_status(self, status: str) -> None:
        case_id, cases = self.case_id, self.console.cases
        self._act(lambda: cases.set_status(case_id, status, actor=self.actor), f"status: {status}", {"status": status},
                  undo_as=f"status {status}")

    def action_assign(self) -> None:
        case_id, cases = self.case_id, self.console.cases

        def assign(agent: str | None) -> None:
            if agent and agent.strip():
                who = agent.strip()
                self._act(lambda: cases.assign(case_id, who, actor=self.actor), f"handed over to {who}", {"owner": who},
                          undo_as=f"hand-over to {who}")

        self.console.read(self.console.agent_ids, lambda agents: self.console.push_screen(
            PromptScreen("Hand over to:", suggestions=agents, only=self.console.agents_allowed), assign))

    def action_label(self) -> None:
        case_id, cases, labels = self.case_id, self.console.cases, list(self.case["labels"])

        def add(label: str | None) -> None:
            if label:
                self._act(lambda: cases.label(case_id, self.actor, add=[label]), f"+{label}",
                          {"labels": sorted({*labels, label})}, undo_as=f"+{label}")

        self.console.read(self.console.store.label_names, lambda names: self.console.push_screen(
            PromptScreen("Add label:", suggestions=names, new="label"), add))

    def action_unlabel(self) -> None:
        case_id, cases, labels = self.case_id, self.console.cases, list(self.case["labels"])

        def remove(label: str | None) -> None:
            if label:
                self._act(lambda: cases.label(case_id, self.actor, remove=[label]), f"-{label}",
                          {"labels": [name for name in labels if name != label]}, undo_as=f"-{label}")

        self.console.push_screen(PromptScreen("Remove label:", suggestions=labels, only="a label of this case"), remove)

    def action_memo(self) -> None:
        case_id, cases = self.case_id, self.console.cases

        def memo(text: str | None) -> None:
            if text:
                self._act(lambda: cases.memo(case_id, self.actor, text), "memo added", undo_as="the memo")

        self.console.push_screen(PromptScreen("Memo (internal, never sent):"), memo)

    def action_merge(self) -> None:
        case_id, cases = self.case_id, self.console.cases

        def merge(other: str | None) -> None:
            if other and other.strip().isdigit():
                self._act(lambda: cases.merge(case_id, int(other), actor=self.actor),
                          f"merged case {other.strip()} into this one")
            elif other:
                self.notice("give the number of the case to merge into this one")

        self.console.push_screen(PromptScreen("Merge which case into this one (case number):"), merge)

    def _reply_values(self) -> tuple[str, dict[str, str]]:
        """This agent's signature for the case (its platform, the customer's language) and the values
        templates and text blocks are filled in with."""
        from webcare_tui.templates import case_values, customer_language

        agent = self.console.config.agent
        signature = agent.signature_for(self.case["platform"], customer_language(self.view.messages))
        return signature, case_values(self.case, agent.name, agent.initials, signature)

    def action_reply(self, visibility: str, text: str | None = None) -> None:
        """Open the composer with the draft begun in this case, or with `text` (a suggested reply)."""
        from webcare_tui.screens.reply import Composed, ReplyScreen

        config, case_id, outbox = self.console.config, self.case_id, self.console.outbox
        visibility = reply_visibility(self.view.reply_context, visibility)
        signature, values = self._reply_values()

        for_approval = needs_approval(config.team, self.actor)
        cases, actor = self.console.cases, self.actor

        def send(result: Composed | None) -> None:
            if result is None:
                return
            chosen = result.visibility
            self._begun[case_id] = ""  # the draft goes with the reply, in its transaction
            self._show_title()
            self._act(lambda: cases.without_draft(case_id, lambda: outbox.queue_reply(
                          case_id, result.text, agent=actor, visibility=chosen, approval=for_approval)),
                      f"{chosen} reply sent for approval" if for_approval else f"{chosen} reply queued",
                      undone=lambda: self.keep_draft(case_id, result.typed),  # refused: what was typed stays
                      undo_as=f"the {chosen} reply")

        author = shown_author(self.case["author_handle"], self.case["author_name"])
        self.console.push_screen(ReplyScreen(platform=self.case["platform"], recipient=author, visibility=visibility,
                                             signature=signature,
                                             blocks={**config.raw.get("blocks", {}), **self._saved_blocks},
                                             values=values, purpose="approval" if for_approval else "send",
                                             text=self.reply_draft if text is None else text,
                                             keep=partial(self.keep_draft, case_id), save_block=self.save_block,
                                             typing=partial(self.console.set_typing, *self._conversation())), send)

    def save_block(self, name: str, text: str, saved: Callable[[str], object], refused: Callable[[str], object]) -> None:
        """Keep a reply typed in the composer as the text block `name`: as a template (this customer's
        handle and name become `{author.handle}` / `{author.first_name}`, the agent's sign-off is left to
        the composer, braces are escaped), written to the config file off the UI thread. `saved(block)`
        follows, and ctrl+b offers it in every composer of this session; or `refused(why)`."""
        from webcare_tui.config import ConfigError, append_block, config_path
        from webcare_tui.suggest import SignOffs, as_template

        config = self.console.config
        block = as_template(text, handle=self.case["author_handle"], name=self.case["author_name"],
                            agent=config.agent.id, signoffs=SignOffs.from_config(config)).rstrip()
        if block.endswith("{agent.signature}"):  # the composer signs whatever it sends
            block = block.removesuffix("{agent.signature}").rstrip()
        path = config.path or config_path()

        def write() -> str | None:
            try:
                append_block(path, name, block)
            except (ConfigError, OSError) as error:
                return str(error)
            return None

        def written(problem: str | None) -> None:
            if problem is not None:
                refused(problem)
                return
            self._saved_blocks[name] = block
            saved(block)

        self.console.keep(write, written, refused)  # the config file: no case or outbox moves

    # -- suggested answers ---------------------------------------------------------

    def find_suggestions(self) -> None:
        """The suggestions for the case shown, computed on the reader thread (the screen never waits for
        them); an open panel fills in when they arrive."""
        from webcare_tui import suggest as suggesting

        case_id, store, config = self.case_id, self.console.store, self.console.config
        macros = [macro for macro in self.console.macros.macros if macro.scope in ("any", self.scope)]
        self._suggestions_stale = False
        self._suggested_for = case_id
        if self._suggestions is not None and self._suggestions.case_id != case_id:
            self._suggestions = None
        self._suggest_problem = None

        def found(suggestions: Suggestions) -> None:
            if case_id == self.case_id:
                self._suggestions = suggestions
                if self._suggestions_panel is not None and self._suggestions_panel.case_id == case_id:
                    self._suggestions_panel.show(suggestions)

        def failed(why: str) -> None:
            if case_id == self.case_id:
                self._suggest_problem = why
                if self._suggestions_panel is not None and self._suggestions_panel.case_id == case_id:
                    self._suggestions_panel.show(self._suggestions, why)

        self.console.read(lambda: suggesting.suggest(store, case_id, macros=macros, config=config), found, failed,
                          latest=(self, "suggest"))

    def action_suggest(self) -> None:
        """The suggested replies and macros; a number inserts a reply into the composer or previews a macro."""
        case_id = self.case_id
        panel = SuggestionsScreen(case_id, self._reply_values()[1], self._suggestions, self._suggest_problem)
        self._suggestions_panel = panel
        if self._suggestions_stale or (self._suggestions is None and self._suggest_problem is not None):
            self.find_suggestions()  # what is shown stays until the new ones arrive

        def picked(choice: ReplySuggestion | MacroSuggestion | None) -> None:
            if self._suggestions_panel is panel:
                self._suggestions_panel = None
            if choice is None or case_id != self.case_id:
                return
            if isinstance(choice, MacroSuggestion):
                self.show_preview(choice.macro)  # enter applies it, with undo as usual
                return
            values = self._reply_values()[1]
            try:
                text = choice.render(values)
            except TemplateError as error:
                self.notice(f"the suggestion cannot be filled in for this customer: {error}")
                return
            if self.reply_draft.strip():  # the reply begun here stays: the suggestion goes under it
                text = f"{self.reply_draft.rstrip()}\n\n{text}"
            self.action_reply("same", text)

        self.console.push_screen(panel, picked)

    def keep_draft(self, case_id: int, text: str) -> None:
        """The reply the agent began in `case_id` (the composer hands it over): in the header at once,
        in the store behind (an empty one deletes the draft); the inbox's row then shows it."""
        text = text if text.strip() else ""
        self._begun[case_id] = text
        if case_id == self.case_id and self.is_attached:  # (the console may be closing with the composer open)
            self._show_title()
        cases, actor = self.console.cases, self.actor

        def refused(why: str) -> None:
            self.console.notify(clean(f"the draft of case {case_id} could not be kept: {why}"), severity="error",
                                markup=False)

        self.console.keep(lambda: cases.keep_draft(case_id, actor, text),
                          lambda _: self.console.store_changed.publish(frozenset({case_id})), refused)

    # -- approvals (a lead on a case with a draft) ---------------------------------

    def _waiting_draft(self, verb: str) -> tuple[dict, str] | None:
        """The oldest draft waiting in this case and a note on any others, once the agent may `verb` it
        (the approval checks again, as it writes, that the draft still waits)."""
        drafts = self.drafts
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
            approvals = self.approvals
            self._act(lambda: approvals.approve(draft["id"], self.actor),
                      f"approved {clean(draft['payload']['agent'], single_line=True)}'s reply: queued{more}")

    def action_edit_approve(self) -> None:
        from webcare_tui.screens.reply import Composed, ReplyScreen

        found = self._waiting_draft("approve")
        if found is None:
            return
        draft, more = found
        approvals = self.approvals

        def approve(result: Composed | None) -> None:
            if result is not None:
                self._act(lambda: approvals.approve(draft["id"], self.actor, text=result.text),
                          f"approved {clean(draft['payload']['agent'], single_line=True)}'s reply with your edits: "
                          f"queued{more}")

        author = shown_author(self.case["author_handle"], self.case["author_name"])
        payload = draft["payload"]
        self.console.push_screen(ReplyScreen(platform=self.case["platform"], recipient=author,
                                         visibility=payload["visibility"], signature="", blocks={}, values={},
                                         text=payload["text"], purpose="approve"), approve)

    def action_reject(self) -> None:
        found = self._waiting_draft("reject")
        if found is None:
            return
        draft, more = found
        agent = clean(draft["payload"]["agent"], single_line=True)
        approvals = self.approvals

        def reject(reason: str | None) -> None:
            if reason is not None:
                self._act(lambda: approvals.reject(draft["id"], self.actor, reason),
                          f"rejected {agent}'s reply; they see your reason on the case{more}")

        self.console.push_screen(PromptScreen(f"Why is {agent}'s reply not approved? (they see it on the case)"), reject)

    def action_retry(self) -> None:
        case_id, outbox = self.case_id, self.console.outbox
        self._act(lambda: outbox.retry(outbox.last_undelivered(case_id)["id"], actor=self.actor), "sending again")

    def action_discard(self) -> None:
        case_id, outbox = self.case_id, self.console.outbox
        self._act(lambda: outbox.discard(outbox.last_undelivered(case_id)["id"], actor=self.actor), "reply discarded")

    def action_priority(self) -> None:
        case_id, cases = self.case_id, self.console.cases
        new = next_priority(self.case["priority"])
        self._act(lambda: cases.set_priority(case_id, new, actor=self.actor), f"priority {new} ({PRIORITIES[new]})",
                  {"priority": new}, undo_as=f"priority {new}")

    def action_split(self) -> None:
        case_id, cases = self.case_id, self.console.cases
        message_ids = [message["id"] for message in self.view.messages]

        def split(number: str | None) -> None:
            if not number:
                return
            digits = number.strip().lstrip("#")
            if not digits.isdigit() or not 1 <= int(digits) <= len(message_ids):
                self.notice(f"give a message number from #1 to #{len(message_ids)}")
                return
            message_id = message_ids[int(digits) - 1]

            def done(new_id: int) -> None:
                if self.case_id == case_id:
                    self.notice(f"split into case {new_id} (e opens it)")
                self.load()

            self.notice("splitting …")
            self.console.act(lambda: cases.split(message_id, actor=self.actor), done, self.notice)

        self.console.push_screen(PromptScreen("Split off from message number (it and the later ones move to a new case):"),
                             split)

    def action_earlier(self) -> None:
        others = [str(c["id"]) for c in self.view.author_cases if c["id"] != self.case_id]
        if not others:
            self.notice("this customer has no other case")
            return

        def open_case(number: str | None) -> None:
            if number and number.strip() in others:
                self.console.open_case(int(number))
            elif number:
                self.notice(f"this customer's other cases: {', '.join(others)}")

        self.console.push_screen(PromptScreen(f"Open which case ({', '.join(others)})?", suggestions=others,
                                          value=others[0], only="one of this customer's cases"), open_case)

    def action_browser(self) -> None:
        urls = [m["url"] for m in self.view.messages if m["url"]]
        if not urls:
            self.notice("this case has no link")
            return
        url = urls[-1].strip()
        shown = clean(url, single_line=True)
        if (refused := unsafe_link(url)) is not None:
            self.notice(f"not opened: {refused} ({shown})")
            return
        try:
            opened = webbrowser.open(url)
        except (webbrowser.Error, OSError):
            opened = False
        self.notice(f"opened {shown}" if opened else f"no browser could be started; the link is {shown}")
