"""Team mode: the case screen says who else is typing in its conversation, and tells the helpdesk
while the agent writes a reply."""

from __future__ import annotations

import time

from conftest import HOUR, T0, msg, press, settle, wait_for

from webcare_tui.app import make_app
from webcare_tui.config import Account, Config
from webcare_tui.connectors.base import Capabilities, Connector, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.chatwoot_cable import LiveUpdate, Typist
from webcare_tui.ingest import ingest


class Helpdesk(Connector):
    """A team-mode platform at the network edge: nothing new to fetch; typing status recorded."""

    platform = "chatwoot"
    capabilities = Capabilities(max_reply_length=None, private_messages=True, like=False, idempotent_send=False)

    def __init__(self) -> None:
        super().__init__(Account("team", "chatwoot", {}))
        self.typing: list[tuple[str, bool]] = []

    async def fetch(self, cursor: str | None) -> FetchResult:
        return FetchResult(messages=[], cursor=cursor)

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        raise AssertionError("nothing is sent in this test")

    async def set_typing(self, external_id: str, on: bool, *, private: bool = False) -> None:
        self.typing.append((external_id, on))


async def test_a_teammate_typing_shows_on_the_case_and_our_typing_goes_to_the_helpdesk(store):
    ingest(store, [msg(0, author="anna", platform="chatwoot", external_id="42:9001", text="Is er nieuws?")])
    helpdesk = Helpdesk()
    app = make_app(Config(), store, connectors={"brand-chatwoot": helpdesk}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "enter")
        title = app.screen.query_one("#title")
        assert "typing" not in str(title.render())

        sanne = Typist("Sanne", "agent", "sanne", False, time.monotonic() + 30)
        app.live.start_typing("brand-chatwoot", "42:", ("user", 7), sanne)
        app.on_live_update(LiveUpdate("brand-chatwoot", "typing", "42:", None))
        await wait_for(pilot, lambda: "✍ Sanne is typing…" in str(title.render()))
        tim = Typist("Tim", "agent", "tim", False, time.monotonic() + 30)  # ourselves, on another screen
        app.live.start_typing("brand-chatwoot", "42:", ("user", 3), tim)
        app.on_live_update(LiveUpdate("brand-chatwoot", "typing", "42:", None))
        await settle(pilot)
        assert "typing" in str(title.render()) and "Tim" not in str(title.render())  # redrawn, without ourselves

        await press(pilot, "r", *"We kijken")
        await wait_for(pilot, lambda: helpdesk.typing == [("42:9001", True)], "typing on, once while typing")
        await press(pilot, "escape")
        await wait_for(pilot, lambda: helpdesk.typing == [("42:9001", True), ("42:9001", False)], "typing off")


async def test_the_inbox_row_says_who_else_is_typing_in_its_conversation(store):
    from conftest import screen_lines

    from webcare_tui.widgets.case_list import CaseList

    ingest(store, [msg(0, author="anna", platform="chatwoot", external_id="42:9001", text="Is er nieuws?"),
                   msg(60, author="bram", platform="chatwoot", external_id="43:9002", text="Hallo")])
    app = make_app(Config(), store, connectors={"brand-chatwoot": Helpdesk()}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.count == 2)
        app.live.start_typing("brand-chatwoot", "42:", ("user", 7),
                              Typist("Sanne", "agent", "sanne", False, time.monotonic() + 30))
        app.on_live_update(LiveUpdate("brand-chatwoot", "typing", "42:", None))
        await wait_for(pilot, lambda: any("✍ Sanne typing…" in line for line in screen_lines(cases)))
        [anna] = [line for line in screen_lines(cases) if "@anna" in line]
        assert "✍ Sanne typing…" in anna and not any("✍" in line for line in screen_lines(cases) if "@bram" in line)
        app.live.stop_typing("brand-chatwoot", "42:", ("user", 7))
        app.on_live_update(LiveUpdate("brand-chatwoot", "typing", "42:", None))
        await wait_for(pilot, lambda: not any("✍" in line for line in screen_lines(cases)))
