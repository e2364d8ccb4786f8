"""Provides `ReplyScreen`: the reply composer — signature, live count against the limit, text blocks."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from webcare_tui.outbox import reply_limit, signed
from webcare_tui.platforms import reply_length
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.templates import TemplateError, render


class ReplyScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (signed text, visibility), or None when cancelled.

    `purpose` says what ctrl+s does: "send" (to the outbox), "approval" (the agent's reply
    waits for a lead) or "approve" (a lead edits a draft, `text`, and approves it; the draft
    keeps its author's signature and visibility).
    """

    DEFAULT_CSS = """
    ReplyScreen { align: center middle; }
    ReplyScreen > Vertical { width: 90%; max-width: 100; height: auto; border: round $accent; background: $surface; }
    ReplyScreen TextArea { height: 8; }
    #count { color: $text-muted; }
    #error { color: $error; }
    """
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="reply.send"),
        Binding("ctrl+t", "toggle_visibility", "Public/private", id="reply.visibility"),
        Binding("ctrl+b", "block", "Text block", id="reply.block"),
        Binding("escape", "cancel", "Cancel", id="reply.cancel"),
    ]

    def __init__(self, *, platform: str, recipient: str, visibility: str, signatures: dict[str, str],
                 blocks: dict[str, str], values: dict[str, str], text: str = "", purpose: str = "send") -> None:
        super().__init__()
        self.initial_text = text
        self.purpose = purpose
        self.platform = platform
        self.recipient = recipient
        self.visibility = visibility
        self.signatures = signatures
        self.blocks = blocks
        self.values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(id="title", markup=False)
            yield TextArea(self.initial_text, id="text", soft_wrap=True)
            yield Static(id="count", markup=False)
            yield Static(id="error", markup=False)

    def on_mount(self) -> None:
        self.update_title()
        self.update_count()
        self.query_one(TextArea).focus()

    def update_title(self) -> None:
        if self.purpose == "approve":
            title = f"Edit the draft to {self.recipient} on {self.platform}, {self.visibility} · ctrl+s approves it"
        else:
            sends = "ctrl+s sends it for a lead's approval" if self.purpose == "approval" else "ctrl+s sends"
            title = f"Reply to {self.recipient} on {self.platform}, {self.visibility} (ctrl+t switches) · {sends}"
        self.query_one("#title", Label).update(title)

    def final_text(self) -> str:
        return signed(self.query_one(TextArea).text, self.platform, self.signatures)

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
        self.query_one("#error", Static).update("")

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
                self.query_one(TextArea).insert(render(self.blocks[name], self.values))
            except TemplateError as error:
                self.query_one("#error", Static).update(f"text block {name}: {error}")

        self.app.push_screen(PromptScreen("Text block:", suggestions=sorted(self.blocks), only="a text block"), insert)

    def action_send(self) -> None:
        text, limit = self.final_text(), reply_limit(self.platform, self.visibility)
        if not self.query_one(TextArea).text.strip():
            self.query_one("#error", Static).update("the reply is empty")
        elif limit is not None and reply_length(self.platform, text) > limit:
            length = reply_length(self.platform, text)
            self.query_one("#error", Static).update(f"too long for {self.platform}: {length} of {limit} characters")
        else:
            self.dismiss((text, self.visibility))

    def action_cancel(self) -> None:
        self.dismiss(None)
