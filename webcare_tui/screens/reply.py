"""Provides `ReplyScreen`: the reply composer — signature, live count against the limit, text blocks,
and `Composed`, what it gives back when the agent sends. What the agent types is kept as the case's
draft while typing and when they leave with Esc, through the `keep` callback its case screen gives; with a
`save_block` callback, what was typed can be saved as a text block (ctrl+o) for ctrl+b to insert later."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Label, Static, TextArea

from webcare_tui.outbox import reply_limit
from webcare_tui.platforms import reply_length
from webcare_tui.safe_text import clean
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.templates import TemplateError, render, sign

KEEP_AFTER = 2.0  # seconds of no typing after which the text is kept as the case's draft
TYPING_AGAIN = 20.0  # seconds: teammates' screens drop "typing" after 30 s, so it is said again while typing
# save_block(name, text, saved, refused): keep `text` as the text block `name` (off the UI thread), then
# `saved(block)` with the block as stored (a template) or `refused(why)`, on the UI thread
SaveBlock = Callable[[str, str, Callable[[str], object], Callable[[str], object]], object]


@dataclass(frozen=True, slots=True)
class Composed:
    """A reply the agent sends: `text` with the signature, its visibility, and `typed`, the text as
    typed (kept again as the draft when the reply is refused)."""

    text: str
    visibility: str
    typed: str


class ReplyScreen(ModalScreen[Composed | None]):
    """Dismisses with the `Composed` reply, or None when cancelled.

    `purpose` says what ctrl+s does: "send" (to the outbox), "approval" (the agent's reply
    waits for a lead) or "approve" (a lead edits a draft, `text`, and approves it; the draft
    keeps its author's signature and visibility). With `keep`, the text typed is handed to it
    (to keep as the case's draft) after a pause in typing and when the agent leaves with Esc,
    so a reply begun is never thrown away; an emptied composer hands "" (no draft).
    """

    DEFAULT_CSS = """
    ReplyScreen { align: center middle; }
    ReplyScreen > Vertical { width: 90%; max-width: 100; height: auto; border: round $accent; background: $surface; }
    ReplyScreen TextArea { height: 8; }
    ReplyScreen #title { width: 1fr; }
    #count { color: $text-muted; }
    #error { color: $error; }
    """
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="reply.send"),
        Binding("ctrl+t", "toggle_visibility", "Public/private", id="reply.visibility"),
        Binding("ctrl+b", "block", "Text block", id="reply.block"),
        # not ctrl+k: the text area deletes to the end of the line with it
        Binding("ctrl+o", "save_block", "Save as text block", id="reply.save_block"),
        Binding("escape", "cancel", "Cancel", id="reply.cancel"),
    ]

    def __init__(self, *, platform: str, recipient: str, visibility: str, signature: str,
                 blocks: dict[str, str], values: dict[str, str], text: str = "", purpose: str = "send",
                 keep: Callable[[str], object] | None = None, save_block: SaveBlock | None = None,
                 typing: Callable[[bool], object] | None = None) -> None:
        super().__init__()
        self.keep = keep
        self.typing = typing  # tells teammates (team mode) that the agent is writing here, and when they stop
        self._typing_said: float | None = None
        self.save_block = save_block
        self._kept = text  # the text the draft holds now
        self._keep_timer: Timer | None = None
        self._sent = False
        self.text_area = TextArea(text, id="text", soft_wrap=True)  # read when the screen closes too
        self.purpose = purpose
        self.platform = platform
        self.recipient = recipient
        self.visibility = visibility
        self.signature = signature  # the agent's, for this platform and the customer's language
        self.blocks = blocks
        self.values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(id="title", markup=False)
            yield self.text_area
            yield Static(id="count", markup=False)
            yield Static(id="error", markup=False)

    def on_mount(self) -> None:
        self.update_title()
        self.update_count()
        self.text_area.move_cursor(self.text_area.document.end)  # a draft taken up again goes on where it stopped
        self.text_area.focus()

    def update_title(self) -> None:
        if self.purpose == "approve":
            title = f"Edit the draft to {self.recipient} on {self.platform}, {self.visibility} · ctrl+s approves it"
        else:
            sends = "ctrl+s sends it for a lead's approval" if self.purpose == "approval" else "ctrl+s sends"
            keeps = " · Esc keeps it as a draft" if self.keep is not None else ""
            title = f"Reply to {self.recipient} on {self.platform}, {self.visibility} (ctrl+t switches) · {sends}{keeps}"
        self.query_one("#title", Label).update(title)

    def final_text(self) -> str:
        return sign(self.text_area.text, self.signature)

    def update_count(self) -> None:
        length, limit = reply_length(self.platform, self.final_text()), reply_limit(self.platform, self.visibility)
        excess = length - limit if limit is not None else 0
        over = excess > 0
        line = Text(f"{length}" + (f"/{limit}" if limit else "") + " characters with signature",
                    style="bold red" if over else "")
        if over:
            line.append(f" — {excess} too many for {self.platform}")
        self.query_one("#count", Static).update(line)

    def on_text_area_changed(self) -> None:
        self.update_count()
        now = time.monotonic()
        if self.typing is not None and (self._typing_said is None or now - self._typing_said >= TYPING_AGAIN):
            self._typing_said = now
            self.typing(True)
        self.query_one("#error", Static).update("")
        if self.keep is not None:  # kept once typing pauses
            self._stop_keeping()
            self._keep_timer = self.set_timer(KEEP_AFTER, self.keep_draft)

    def _stop_keeping(self) -> None:
        if self._keep_timer is not None:
            self._keep_timer.stop()
            self._keep_timer = None

    def keep_draft(self) -> None:
        """Hand the text to `keep` when it differs from what the draft holds."""
        self._stop_keeping()
        text = self.text_area.text
        if self.keep is None or text == self._kept or (not text.strip() and not self._kept.strip()):
            return
        self._kept = text
        self.keep(text)

    def action_toggle_visibility(self) -> None:
        if self.purpose == "approve":
            self.query_one("#error", Static).update("an approval keeps the draft's visibility")
            return
        self.visibility = "private" if self.visibility == "public" else "public"
        self.update_title()

    def action_block(self) -> None:
        if not self.blocks:
            self.query_one("#error", Static).update("no text blocks: add them under [blocks] in the config file")
            return

        def insert(name: str | None) -> None:
            if not name:
                return
            if name not in self.blocks:
                self.query_one("#error", Static).update(f"there is no text block {name!r}")
                return
            try:
                self.text_area.insert(render(self.blocks[name], self.values))
            except TemplateError as error:
                self.query_one("#error", Static).update(f"text block {name}: {error}")

        self.app.push_screen(PromptScreen("Text block:", suggestions=sorted(self.blocks), only="a text block"), insert)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Saving as a text block is offered only where the composer was given a way to save one."""
        return self.save_block is not None if action == "save_block" else True

    def action_save_block(self) -> None:
        save = self.save_block
        text = self.text_area.text.strip()
        if save is None:
            return
        if not text:
            self.query_one("#error", Static).update("the reply is empty: there is nothing to save as a text block")
            return

        def saved_as(name: str) -> Callable[[str], None]:
            def saved(block: str) -> None:
                self.blocks = {**self.blocks, name: block}  # ctrl+b offers it at once
                if self.is_attached:
                    self.query_one("#error", Static).update("")
                self.app.notify(f"saved as text block {name} (ctrl+b inserts it)", markup=False)
            return saved

        def refused(why: str) -> None:
            if self.is_attached:
                self.query_one("#error", Static).update(clean(f"not saved: {why}"))
            else:
                self.app.notify(clean(f"the text block was not saved: {why}"), severity="error", markup=False)

        def named(name: str | None) -> None:
            if name and name.strip():
                save(name.strip(), text, saved_as(name.strip()), refused)

        self.app.push_screen(PromptScreen("Save as text block named (letters, digits, spaces, . - _):"), named)

    def action_send(self) -> None:
        text, limit = self.final_text(), reply_limit(self.platform, self.visibility)
        if not self.text_area.text.strip():
            self.query_one("#error", Static).update("the reply is empty")
        elif limit is not None and reply_length(self.platform, text) > limit:
            length = reply_length(self.platform, text)
            self.query_one("#error", Static).update(f"too long for {self.platform}: {length} of {limit} characters")
        else:
            self._stop_keeping()  # a sent reply leaves no draft (its case screen deletes it as it sends)
            self._sent = True
            self.dismiss(Composed(text, self.visibility, self.text_area.text))

    def on_unmount(self) -> None:
        if self.typing is not None and self._typing_said is not None:
            self.typing(False)  # sent, cancelled or closed: no longer typing
        if not self._sent:  # closed some other way (the console quits): what was typed is kept all the same
            self.keep_draft()

    def action_cancel(self) -> None:
        self.keep_draft()
        self.dismiss(None)
