"""The console, driven as an agent would with Textual's Pilot: keys in, store and screen checked."""

from __future__ import annotations

import pytest
from conftest import HOUR, MINUTE, T0, conversation, msg, notice, only_macros, press, screen_lines, settle, wait_for

from webcare_tui.app import make_app
from webcare_tui.config import Account, Config
from webcare_tui.connectors.demo import DemoConnector
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.store import CaseFilter
from webcare_tui.widgets.case_list import CaseList
from webcare_tui.widgets.timeline import Timeline

EVIL = "[bold red]ALARM[/] \x1b]0;pwned\x07\x1b[31mred [link=https://evil.example]klik[/link]"


@pytest.fixture
def team_inbox(store):
    ingest(store, [
        msg(0, author="anna", text="Mijn wifi is kapot"),
        msg(10 * MINUTE, author="bram", text="Waar blijft mijn pakket?"),
        msg(20 * MINUTE, author="cees", text=EVIL),
        msg(30 * MINUTE, author="dirk", text="Factuur klopt niet"),
        msg(40 * MINUTE, author="eva", text="Storing in Utrecht?"),
        msg(50 * MINUTE, "out", author="eva", agent="sanne", text="Klopt, we werken eraan ^SB"),
    ])
    return store


async def test_inbox_views_counts_and_plain_customer_text(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: "…" not in str(app.screen.query_one("#views").render()))
        views = str(app.screen.query_one("#views").render())
        assert "1 Mine 0" in views and "2 Unassigned 4" in views and "4 Pending 1" in views
        await press(pilot, "3")  # All open, oldest waiting first
        lines = screen_lines(cases)
        assert cases.count == 4 and "@anna" in lines[0] and "@dirk" in lines[3]
        evil_line = next(line for line in lines if "@cees" in line)
        assert "[bold red]ALARM[/]" in evil_line and "\x1b" not in evil_line and "\x07" not in evil_line
        await press(pilot, "4")
        assert cases.count == 1 and "@eva" in screen_lines(cases)[0]
        await press(pilot, "3", "j", "j")
        assert cases.current_row().author_handle == "@cees"


async def test_open_a_case_label_hand_over_and_close_it(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")  # anna waits longest
        assert isinstance(app.screen, CaseScreen)
        case_id = app.screen.case_id
        conversation = app.screen.query_one(Timeline).items[-1].content.plain
        assert "Mijn wifi is kapot" in conversation
        await press(pilot, "l", *"Storing", "enter", "enter")  # a new label: Enter again makes it
        await press(pilot, "n", *"Belt morgen terug", "enter")
        await press(pilot, "a", *"jeroen", "enter")
        case = team_inbox.get_case(case_id)
        assert (case["labels"], case["owner"], case["status"]) == (["Storing"], "jeroen", "open")
        assert [m["text"] for m in team_inbox.case_memos(case_id)] == ["Belt morgen terug"]
        assert "owner: jeroen" in str(app.screen.query_one("#title").render())
        await press(pilot, "c")
        assert team_inbox.get_case(case_id)["status"] == "closed"
        kinds = [(e["kind"], e["actor"]) for e in team_inbox.case_events(case_id)]
        assert ("labels", "tim") in kinds and ("assigned", "tim") in kinds and ("status", "tim") in kinds
        await press(pilot, "escape")
        assert isinstance(app.screen, InboxScreen)
        assert app.screen.query_one(CaseList).count == 3  # anna left "All open"


async def test_the_case_screen_shows_escape_sequences_as_inert_text(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j", "j", "enter")
        shown = app.screen.query_one(Timeline).items[-1].content.plain
        assert "[bold red]ALARM[/]" in shown and "[link=https://evil.example]klik[/link]" in shown
        assert "\x1b" not in shown and "\x07" not in shown and "pwned" not in shown


async def test_an_owner_from_a_helpdesk_is_shown_as_inert_text(team_inbox):
    from webcare_tui.cases import CaseService

    [anna] = [c["id"] for c in team_inbox.list_cases() if c["author_handle"] == "@anna"]
    CaseService(team_inbox).assign(anna, "cw:\x1b]0;pwned\x07", actor="chatwoot")  # as team mode may report it
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")
        row = next(line for line in screen_lines(app.screen.query_one(CaseList)) if "@anna" in line)
        assert "cw:" in row and "\x1b" not in row and "\x07" not in row
        await press(pilot, "enter")
        title = str(app.screen.query_one("#title").render())
        trail = conversation(app) + "\n".join(screen_lines(app.screen.query_one(Timeline)))  # as text and as drawn
        assert "owner: cw:" in title and "\x1b" not in title + trail and "\x07" not in title + trail


async def test_search_narrows_the_view_while_typing(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        cases = app.screen.query_one(CaseList)
        await press(pilot, "3", "slash", *"pak")
        await wait_for(pilot, lambda: cases.count == 1)
        assert cases.current_row().author_handle == "@bram"
        await press(pilot, "enter", "escape")
        assert cases.count == 4
        await press(pilot, "slash", *"colour:red")
        assert "unknown search key 'colour'" in notice(app)


async def test_bulk_close_three_selected_cases(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "space", "space", "space")
        cases = app.screen.query_one(CaseList)
        chosen = set(cases.selected)
        assert len(chosen) == 3
        await press(pilot, "c")
        assert {team_inbox.get_case(i)["status"] for i in chosen} == {"closed"}
        assert cases.count == 1 and not cases.selected
        assert "closed 3 cases" in notice(app)


async def test_bulk_hand_over(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "shift+down", "a", *"noah", "enter")
        owners = sorted((c["author_id"], c["owner"]) for c in team_inbox.list_cases())
        assert owners == [("anna", "noah"), ("bram", "noah"), ("cees", None), ("dirk", None), ("eva", "sanne")]


async def test_new_cases_from_sync_keep_the_cursor_on_its_case(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j", "j")
        cases = app.screen.query_one(CaseList)
        assert cases.current_row().author_handle == "@cees"
        ingest(team_inbox, [msg(-HOUR, author="zoe"), msg(-2 * HOUR, author="yara")])  # waited longer: on top
        app.screen.refresh_data()
        await wait_for(pilot, lambda: cases.count == 6 and cases.current_row() is not None)  # count, then its page
        assert cases.cursor == 4 and cases.current_row().author_handle == "@cees"


async def test_the_demo_sync_fills_an_empty_inbox(store):
    connector = DemoConnector(Account("demo", "demo", {"history_days": 1, "conversations_per_day": 60}),
                              clock=lambda: T0)
    app = make_app(Config(), store, connectors={"demo": connector})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "demo online" in app.status_text)
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.count == store.count_cases(app.views[0].query))
        await press(pilot, "3")
        await wait_for(pilot, lambda: (app.screen.query_one(CaseList).count or 0) > 5)


async def test_reply_with_signature_is_stored_at_once_and_queued(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})  # offline: nothing can be delivered
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "r")
        await press(pilot, *"Hoi Anna, we kijken ernaar!")
        assert "31/280 characters" in str(app.screen.query_one("#count").render())
        await press(pilot, "ctrl+s")
        case_id = app.screen.case_id
        reply = team_inbox.case_messages(case_id)[-1]
        assert (reply["text"], reply["agent"], reply["direction"]) == ("Hoi Anna, we kijken ernaar! ^TR", "tim", "out")
        assert team_inbox.get_case(case_id)["status"] == "pending"
        [row] = team_inbox.case_outbox(case_id)
        assert row["state"] == "queued"
        assert "[queued]" in app.screen.query_one(Timeline).items[-1].content.plain
        assert "outbox 1" in app.status_text
        await press(pilot, "escape")
        await press(pilot, "1")  # the case left "Mine" (it was never there) and "All open"
        await press(pilot, "3")
        assert app.screen.query_one(CaseList).count == 3


async def test_a_reply_over_the_limit_is_blocked(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "r")
        app.screen.query_one("#text").insert("x" * 300)
        await press(pilot, "ctrl+s")
        assert "too long for x: 304 of 280" in str(app.screen.query_one("#error").render())
        await press(pilot, "escape")
        assert team_inbox.counts()["outbox"] == 0


async def test_the_demo_delivers_a_reply_and_the_case_shows_it_sent(store):
    connector = DemoConnector(Account("demo", "demo", {"history_days": 1, "conversations_per_day": 60}),
                              clock=lambda: T0)
    app = make_app(Config(undo_grace=0), store, connectors={"demo": connector})  # no time to take it back
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "demo online" in app.status_text)
        await press(pilot, "2")  # unassigned
        await wait_for(pilot, lambda: app.screen.query_one(CaseList).count > 0)
        await press(pilot, "enter", "R", *"Stuur je ons je klantnummer?", "ctrl+s")
        case_id = app.screen.case_id
        await wait_for(pilot, lambda: store.case_outbox(case_id)[0]["state"] == "sent", tries=200)
        reply = store.case_messages(case_id)[-1]
        assert reply["visibility"] == "private" and reply["external_id"].startswith("demo-")
        assert len(connector.sent) == 1


async def test_keys_and_saved_views_come_from_the_config_file(team_inbox, tmp_path):
    from webcare_tui.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[agent]\nid = "tim"\nname = "Tim"\n\n[[view]]\nname = "Pakketten"\nquery = "pakket"\nkey = "6"\n\n'
                    '[keymap]\n"case.reply" = "f2"\n"inbox.search" = "ctrl+f"\n"case.nonsense" = "z"\n')
    config = load_config(path)
    app = make_app(config, team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "6")
        cases = app.screen.query_one(CaseList)
        assert cases.count == 1 and cases.current_row().author_handle == "@bram"
        await wait_for(pilot, lambda: "6 Pakketten 1" in str(app.screen.query_one("#views").render()))
        await press(pilot, "ctrl+f", *"wifi")
        await wait_for(pilot, lambda: cases.count == 0)  # the saved view narrowed by the search
        await press(pilot, "enter", "escape", "enter", "f2")
        from webcare_tui.screens.reply import ReplyScreen

        assert isinstance(app.screen, ReplyScreen)
        messages = [notification.message for notification in app._notifications]
        assert any("config.toml:13: keymap.case.nonsense: no action with that id" in m for m in messages), messages


async def test_split_priority_and_the_customers_other_cases(team_inbox):
    ingest(team_inbox, [msg(HOUR, author="anna", text="En nu is de tv ook stuk")])
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        first = app.screen.case_id
        await press(pilot, "P", "P")
        assert team_inbox.get_case(first)["priority"] == 2
        await press(pilot, "P")
        assert "priority 3 (urgent)" in notice(app)
        await press(pilot, "P")  # from urgent back to normal
        assert team_inbox.get_case(first)["priority"] == 0
        await press(pilot, "s", *"#3", "enter")  # anna's case has two messages
        assert "give a message number from #1 to #2" in notice(app)
        await press(pilot, "s", *"2", "enter")
        [other] = [c["id"] for c in team_inbox.list_cases(CaseFilter(author="anna")) if c["id"] != first]
        assert [m["text"] for m in team_inbox.case_messages(other)] == ["En nu is de tv ook stuk"]
        await press(pilot, "e", "enter")
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == other


async def test_the_command_palette_lists_the_screens_actions(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Reply", "Reply privately", "Assign", "Memo", "Split", "Merge", "Close"} <= titles


async def test_a_macro_name_in_the_palette_is_text_not_markup(team_inbox, tmp_path, monkeypatch):
    from textual.content import Content

    only_macros(tmp_path, monkeypatch, '[[macro]]\nname = "[b]Sluit[/b]"\nkey = "z"\nstatus = "closed"\n')
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        shown = [Content.from_markup(title).plain for title in titles]  # what the palette draws
        assert "[b]Sluit[/b]" in shown


async def test_the_hypotheken_key_applies_the_bundle_and_u_undoes_it(team_inbox):
    clock = [T0 + HOUR]
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: clock[0])
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")  # anna waits longest and is under the cursor
        anna = app.screen.query_one(CaseList).current_row().id
        before = (team_inbox.get_case(anna), team_inbox.case_messages(anna))
        await press(pilot, "h")
        case = team_inbox.get_case(anna)
        assert (case["owner"], case["labels"], case["status"]) == ("jeroen", ["Hypotheken", "Vraag"], "pending")
        assert [m["text"] for m in team_inbox.case_memos(anna)] == ["Hoi Jeroen, kun jij hiernaar kijken?"]
        [row] = team_inbox.case_outbox(anna)
        assert row["state"] == "queued" and row["payload"]["text"] == (
            "Bedankt voor je vraag, ik heb het doorgezet naar Jeroen van ons klantenserviceteam en hij reageert "
            "binnen 3 uur! ^TR")
        assert "Hypotheken: assigned Jeroen, +Vraag +Hypotheken, memo, reply queued, pending" in notice(app)
        assert app.screen.query_one(CaseList).count == 3  # it left All open
        assert app.screen.query_one(CaseList).current_row().author_handle == "@bram"  # the next case is up
        clock[0] += 5
        await press(pilot, "u")
        after = team_inbox.get_case(anna)
        for key in ("owner", "status", "labels", "message_count", "waiting_since"):
            assert after[key] == before[0][key], key
        assert team_inbox.case_messages(anna) == before[1] and team_inbox.case_memos(anna) == []
        assert team_inbox.outbox_waiting() == 0
        assert "undone: Hypotheken" in notice(app)
        assert app.screen.query_one(CaseList).count == 4


async def test_the_macro_picker_and_a_macro_that_asks(team_inbox):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "space", "space")  # anna and bram
        await press(pilot, "m", *"Tick", "right", "enter")  # completes to "Ticket"
        await press(pilot, *"INC-9", "enter")
        memos = [m["text"] for c in team_inbox.list_cases() for m in team_inbox.case_memos(c["id"])]
        assert memos == ["Ticket INC-9 aangemaakt in het backoffice-systeem."] * 2
        assert "Ticket (2 cases): +Ticket, memo" in notice(app)


async def test_a_macro_key_taken_by_a_built_in_action_is_reported_not_bound(team_inbox, tmp_path, monkeypatch):
    only_macros(tmp_path, monkeypatch, '[[macro]]\nname = "Sluit"\nkey = "j"\nstatus = "closed"\n')
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j")
        assert app.screen.query_one(CaseList).cursor == 1  # j still moves down
        assert {c["status"] for c in team_inbox.list_cases()} == {"new", "pending"}
        messages = [notification.message for notification in app._notifications]
        assert any("key 'j' of macro 'Sluit' is taken by a built-in action on the inbox screen" in m
                   for m in messages), messages


async def test_a_two_key_macro_shows_what_may_follow_and_applies_the_one_chosen(team_inbox):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")
        anna = app.screen.query_one(CaseList).current_row().id
        await press(pilot, "i")
        hint = str(app.screen.query_one("Label").render())
        assert "n Storing (nl)" in hint and "d Störung (de)" in hint and "e Outage (en)" in hint
        await press(pilot, "e")
        [row] = team_inbox.case_outbox(anna)
        assert row["payload"]["text"].startswith("Hi Anna, thanks for letting us know! There is an outage")
        assert team_inbox.get_case(anna)["labels"] == ["Storing"]
        await press(pilot, "i", "q")  # not a second key of any macro: nothing happens
        assert "no macro on that key" in notice(app)
        assert len(team_inbox.case_outbox(anna)) == 1 and isinstance(app.screen, InboxScreen)


async def test_a_search_saved_as_a_view_lands_in_the_config_file(team_inbox, tmp_path):
    from webcare_tui.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[agent]\nid = "tim"\n')
    app = make_app(load_config(path), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "slash", *'"pakket"', "enter", "S", *"Pakket \\ \"kwijt\"", "enter")
        await press(pilot, "escape", "6")
        cases = app.screen.query_one(CaseList)
        assert cases.count == 1 and cases.current_row().author_handle == "@bram"
    saved = load_config(path)
    assert saved.raw["view"] == [{"name": 'Pakket \\ "kwijt"', "query": '"pakket"', "key": "6"}]
    assert saved.agent.id == "tim"


async def test_the_side_panel_shows_crm_fields_as_text(team_inbox):
    team_inbox.conn.execute("""UPDATE authors SET crm = '{"klantnummer": "8812", "pakket": "[b]Glasvezel[/b]"}'
                               WHERE platform_author_id = 'anna'""")
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        panel = str(app.screen.query_one("#author").render())
        assert "klantnummer: 8812" in panel and "pakket: [b]Glasvezel[/b]" in panel


async def test_shift_key_previews_a_macro_without_applying_it(team_inbox):
    from webcare_tui.screens.preview import PreviewScreen

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")
        anna = app.screen.query_one(CaseList).current_row().id
        before = (team_inbox.counts(), team_inbox.get_case(anna))
        await press(pilot, "H")
        assert isinstance(app.screen, PreviewScreen)
        shown = str(app.screen.query_one("Static").render())
        assert "assign jeroen" in shown and "Hoi Jeroen, kun jij hiernaar kijken?" in shown
        assert "reageert binnen 3 uur! ^TR" in shown
        assert (team_inbox.counts(), team_inbox.get_case(anna)) == before
        await press(pilot, "escape", "v", *"Compl", "right", "enter")
        assert "Compliment on case" in str(app.screen.query_one("Static").render())
        await press(pilot, "enter")  # apply from the preview
        assert team_inbox.get_case(anna)["status"] == "closed"


async def test_a_preview_shows_the_customers_name_as_inert_text(team_inbox):
    team_inbox.conn.execute("UPDATE authors SET name = ? WHERE platform_author_id = 'anna'", ("Anna\x1b]0;x\x07 [b]",))
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "W")  # Terugbellen starts "Hoi {author.first_name}"
        shown = str(app.screen.query_one("Static").render())
        assert "Hoi Anna, we bellen" in shown and "\x1b" not in shown and "\x07" not in shown


async def test_a_failed_reply_is_sent_again_or_discarded_from_its_case(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        case_id = app.screen.case_id
        await press(pilot, "t")
        assert "no failed reply in this case" in notice(app)
        first = app.outbox.queue_reply(case_id, "Dat zoeken we uit", agent="tim", visibility="public")
        second = app.outbox.queue_reply(case_id, "Nog even geduld", agent="tim", visibility="public")
        team_inbox.update_outbox(first, T0, state="failed", last_error="500 from the platform")
        team_inbox.update_outbox(second, T0, state="unknown", last_error="timed out")
        await press(pilot, "t")  # the newest undelivered one
        states = {row["id"]: row["state"] for row in team_inbox.case_outbox(case_id)}
        assert states[second] == "queued" and states[first] == "failed"
        await press(pilot, "x")
        states = {row["id"]: row["state"] for row in team_inbox.case_outbox(case_id)}
        assert states[first] == "discarded" and states[second] == "queued"
        await press(pilot, "x")
        assert "no failed reply in this case" in notice(app)


async def test_the_case_timeline_adds_updates_in_place_and_shows_a_split_anew(team_inbox):
    ingest(team_inbox, [msg(HOUR, author="anna", text="En nu is de tv ook stuk")])
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        timeline = app.screen.query_one(Timeline)

        def texts():
            return [item.content.plain for item in timeline.items]

        before = texts()
        await press(pilot, "P")  # one event line more; the rest stays as it was
        await pilot.pause()
        assert texts()[:len(before)] == before and "priority" in texts()[-1]
        case_id = app.screen.case_id
        outbox_id = app.outbox.queue_reply(case_id, "We kijken ernaar", agent="tim", visibility="public")
        app.screen.load()
        await settle(pilot)
        assert "[queued]" in texts()[-1] and timeline.items[-1].kind == "out"
        team_inbox.update_outbox(outbox_id, T0, state="failed", last_error="500 <b>oops</b>")
        app.screen.load()  # the reply's delivery state changes in place
        await settle(pilot)
        assert "[failed: 500 <b>oops</b>]" in texts()[-1]
        assert any("[failed: 500 <b>oops</b>]" in line for line in screen_lines(timeline))  # drawn anew, as text
        await press(pilot, "s", "2", "enter")  # the second message leaves: the timeline is shown anew
        await pilot.pause()
        assert timeline.items == app.screen._timeline(app.screen.view)
        assert not any("En nu is de tv ook stuk" in text for text in texts())
        assert any("Mijn wifi is kapot" in line for line in screen_lines(timeline))


async def test_the_case_timeline_keeps_the_place_of_an_agent_reading_back(team_inbox):
    """A long case: it opens at its end and follows new items there; scrolled back, the agent stays put."""
    [anna] = [c["id"] for c in team_inbox.list_cases() if c["author_handle"] == "@anna"]
    ingest(team_inbox, [msg(MINUTE * n, author="anna", text=f"Bericht {n}") for n in range(1, 40)])
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(100, 24)) as pilot:
        app.open_case(anna)
        await settle(pilot)
        timeline = app.screen.query_one(Timeline)
        assert timeline.max_scroll_y > 0 and timeline.scroll_y == timeline.max_scroll_y
        assert any("Bericht 39" in line for line in screen_lines(timeline))
        await press(pilot, "P")
        assert timeline.scroll_y == timeline.max_scroll_y and "priority" in screen_lines(timeline)[-1]
        timeline.scroll_to(y=0, animate=False)
        await pilot.pause()
        await press(pilot, "P")
        assert timeline.scroll_y == 0 and "priority" in timeline.items[-1].content.plain
        assert any("Mijn wifi is kapot" in line for line in screen_lines(timeline))
        await pilot.resize_terminal(90, 20)  # a smaller window (or a taller header): the place stays
        await settle(pilot)
        assert timeline.scroll_y == 0 and any("Mijn wifi is kapot" in line for line in screen_lines(timeline))
        timeline.scroll_end(animate=False)
        await pilot.pause()
        await pilot.resize_terminal(80, 18)  # at the end, it stays there
        await settle(pilot)
        assert timeline.scroll_y == timeline.max_scroll_y > 0 and "priority" in "".join(screen_lines(timeline)[-2:])


async def test_the_case_screen_is_kept_and_shows_each_case_opened(team_inbox):
    app = make_app(Config(), team_inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        first, screen = app.screen.case_id, app.screen
        await press(pilot, "P")
        assert "priority" in str(screen.query_one("#notice").render())
        await press(pilot, "escape", "j", "enter")
        await pilot.pause()
        assert app.screen is screen and screen.case_id != first
        shown = conversation(app)
        texts = [m["text"] for m in team_inbox.case_messages(screen.case_id)]
        others = [m["text"] for m in team_inbox.case_messages(first)]
        assert all(text in shown for text in texts) and not any(text in shown for text in others)
        assert str(screen.query_one("#notice").render()) == ""  # the last case's notice is gone
        await press(pilot, "!")  # the alerts screen over a case: a case opened from there gets a screen of its own
        app.open_case(first)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen is not screen and app.screen.case_id == first


async def test_the_case_the_cursor_rests_on_is_read_ahead_and_opens_without_a_read(team_inbox, monkeypatch):
    """Opening a case the cursor has rested on only draws it; changed since it was read ahead (here
    by another process), it shows at once and the change follows."""
    import webcare_tui.app as console
    from webcare_tui.store import Store

    reads: list[int] = []
    read_case = console.read_case
    monkeypatch.setattr(console, "read_case", lambda store, case_id: reads.append(case_id) or read_case(store, case_id))
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "P", "escape")  # the first case opened: the app keeps its screen
        kept = app.get_screen("case")
        assert isinstance(kept, CaseScreen)
        opened, cases = kept.case_id, app.screen.query_one(CaseList)
        await press(pilot, "j")
        second = cases.current_row()
        assert second is not None and second.id != opened
        await wait_for(pilot, lambda: kept.view.case["id"] == second.id, "the case under the cursor to be read ahead")
        before = len(reads)
        await press(pilot, "enter")
        assert app.screen is kept and kept.case_id == second.id and len(reads) == before  # no read: only drawn
        assert str(kept.query_one("#notice").render()) == ""  # the priority said on the first case is gone
        texts = [m["text"] for m in team_inbox.case_messages(second.id)]
        assert all(text in conversation(app) for text in texts)

        await press(pilot, "escape", "k")
        first = cases.current_row()
        assert first is not None
        await wait_for(pilot, lambda: kept.view.case["id"] == first.id, "the first case to be read ahead")
        with Store(team_inbox.path) as other:  # another process: the app hears of it within a second
            ingest(other, [msg(HOUR, author=first.author_handle.lstrip("@"), text="Hallo, is er al nieuws?")])
        await wait_for(pilot, lambda: kept.stale, "the app to notice the other process's write")
        await press(pilot, "enter")
        assert app.screen is kept and kept.case_id == first.id
        await wait_for(pilot, lambda: "Hallo, is er al nieuws?" in conversation(app))


async def open_first_case(pilot) -> CaseScreen:
    """The first case of the "all open" view, opened with keys."""
    await press(pilot, "3")
    cases = pilot.app.screen.query_one(CaseList)
    await wait_for(pilot, lambda: cases.current_row() is not None)
    await press(pilot, "enter")
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    return screen


async def test_the_open_case_follows_the_store_without_a_key(team_inbox):
    """Another process (an import, `macro apply`) writes to the case on screen: it shows at once,
    and the agent's half-typed reply waits where it was."""
    from webcare_tui.cases import CaseService
    from webcare_tui.screens.reply import ReplyScreen
    from webcare_tui.store import Store

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_case(pilot)
        author = screen.case["author_handle"].lstrip("@")

        with Store(team_inbox.path) as other:  # its own connection, as another process has
            ingest(other, [msg(HOUR, author=author, text="Hallo, is er al nieuws?")])
        await wait_for(pilot, lambda: "Hallo, is er al nieuws?" in conversation(app))
        assert app.screen is screen and screen.case["message_count"] == 2

        await press(pilot, "r", *"Bijna kl")  # a draft in the composer on top of the case
        assert isinstance(app.screen, ReplyScreen)
        with Store(team_inbox.path) as other:
            CaseService(other, clock=lambda: T0 + HOUR).assign(screen.case_id, "sanne", "sanne")  # a teammate
        await wait_for(pilot, lambda: screen.case["owner"] == "sanne")  # the case shows under the composer
        assert "sanne" in str(screen.query_one("#title").render())
        assert isinstance(app.screen, ReplyScreen) and app.screen.query_one("TextArea").text == "Bijna kl"


async def test_the_open_case_is_drawn_again_only_when_it_changed(team_inbox):
    """Another process's write says nothing of which cases it touched: the open case is read again,
    and drawn again only when the read differs (under an import, every read would redraw it)."""
    from webcare_tui.store import Store

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_case(pilot)
        own = screen.case["author_handle"].lstrip("@")
        other_author = next(case["author_handle"].lstrip("@") for case in team_inbox.list_cases()
                            if case["id"] != screen.case_id)
        timeline, loads, draws = screen.query_one(Timeline), [], []
        load, show = screen.load, timeline.show
        screen.load = lambda: loads.append(1) or load()  # type: ignore[method-assign]
        timeline.show = lambda items: draws.append(1) or show(items)  # type: ignore[method-assign]

        with Store(team_inbox.path) as other:  # another process, another case
            ingest(other, [msg(HOUR, author=other_author, text="Een ander verhaal")])
        await wait_for(pilot, lambda: loads, "the app to notice the other process's write")
        await settle(pilot)
        assert draws == []  # read again, found as shown

        with Store(team_inbox.path) as other:  # and this case
            ingest(other, [msg(HOUR, author=own, text="Hallo, is er al nieuws?")])
        await wait_for(pilot, lambda: "Hallo, is er al nieuws?" in conversation(app))
        assert draws == [1] and len(loads) == 2


async def test_a_change_that_leaves_the_conversation_as_it_was_repaints_none_of_it(team_inbox, monkeypatch):
    """A teammate moves the open case to another team: the title shows it, and the conversation and
    the customer's panel, as they were, are not drawn again. (Each read that found the case changed
    drew every line of the conversation anew, and laid the screen out again for the panel.)"""
    import sqlite3

    from textual.widgets import Static

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first_case(pilot)
        await settle(pilot)
        drawn: list[int] = []
        render_line = Timeline.render_line
        monkeypatch.setattr(Timeline, "render_line", lambda self, y: drawn.append(y) or render_line(self, y))
        author = screen.query_one("#author", Static)
        updates: list[object] = []
        update = author.update
        author.update = lambda *args, **kwargs: updates.append(args) or update(*args, **kwargs)  # type: ignore[method-assign]

        other = sqlite3.connect(team_inbox.path)  # another process
        try:
            other.execute("UPDATE cases SET team = 'billing' WHERE id = ?", (screen.case_id,))
            other.commit()
        finally:
            other.close()
        await wait_for(pilot, lambda: "team billing" in str(screen.query_one("#title").render()),
                       "the title to show the case's new team")
        await settle(pilot)
        assert drawn == [] and updates == [] and "Mijn wifi is kapot" in conversation(app)


async def test_a_list_following_a_busy_store_leaves_its_thread_to_the_agent_between_its_rereads(team_inbox, monkeypatch):
    """Under an import the store changes faster than a big view is counted again (the Pending view of
    the 1M store: 120-480 ms a count). The list is read again after a pause of four times as long as
    the last re-read took, not back to back, and a case opened meanwhile is read at once. (Back to
    back, the re-reads kept the reads thread busy, and what the agent asked for waited behind them.)"""
    import itertools
    import threading

    from webcare_tui.store.inbox import InboxQueries

    counting = threading.Semaphore(0)  # each of the list's counts waits for a permit
    counted = threading.Event()
    count_cases = InboxQueries.count_cases

    def held_when_read_again(self, query):  # not the views' counts, on the counts thread
        if threading.current_thread().name.startswith("webcare-reads"):
            counted.set()
            assert counting.acquire(timeout=30)
        return count_cases(self, query)

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "3")
        cases = app.screen.query_one(CaseList)
        monkeypatch.setattr(InboxQueries, "count_cases", held_when_read_again)
        moments = itertools.count()
        app.jobs.clock = lambda: float(next(moments))  # by the jobs' clock each run takes a second or more
        try:
            app.store_changed.publish(None)  # an import's commit: the list reads itself again
            await wait_for(pilot, counted.is_set, "the list to read itself again")
            app.store_changed.publish(None)  # the next commit, while that re-read runs
            await pilot.pause()
            counting.release()  # the first re-read ends; the next waits 4 s
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, CaseScreen), "the case to open")
            assert app.screen.case_id == cases.current_row().id
        finally:
            counting.release(10)


async def test_a_change_to_the_store_reads_the_cursors_page_once_and_repaints_only_the_rows_it_changed(team_inbox, monkeypatch):
    """The list's re-read after a change brings the cursor's page with it: the rows drawn meanwhile
    do not ask for that page again. (They did, on the same thread, right behind the re-read: under an
    import, some thousand needless page reads in a run of bench/live.py, each waiting for a re-read.)
    And it draws again only the lines whose row changed. (It drew them all, twice per change: under an
    import several times a second, Textual drew each line anew, and the garbage collector's full
    passes then collected every one of them.)"""
    import threading

    from webcare_tui.cases import CaseService
    from webcare_tui.store.inbox import InboxQueries
    from webcare_tui.widgets.case_list import PAGE

    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "3")
        await settle(pilot)
        cases = app.screen.query_one(CaseList)
        pages: list[object] = []
        drawn: list[int] = []
        page_cases, render_line = InboxQueries.page_cases, CaseList.render_line

        def noted_page(self, query, sort, **where):
            if where.get("limit") == PAGE and threading.current_thread().name.startswith("webcare-reads"):
                pages.append(query)  # (the counts thread reads the views' first pages ahead of a switch)
            return page_cases(self, query, sort, **where)

        def noted_line(self, y):
            drawn.append(self.scroll_offset.y + y)
            return render_line(self, y)

        monkeypatch.setattr(InboxQueries, "page_cases", noted_page)
        monkeypatch.setattr(CaseList, "render_line", noted_line)
        app.store_changed.publish(None)  # another process wrote, to none of these cases
        await settle(pilot)
        assert pages.count(cases.query_) == 1 and drawn == [] and cases.current_row() is not None
        bram = cases.row(1)
        assert bram is not None and "@bram" in screen_lines(cases)[1]
        drawn.clear()  # (screen_lines draws every line)
        CaseService(team_inbox, clock=lambda: T0 + HOUR).set_priority(bram.id, 2, "sanne")
        app.store_changed.publish(None)
        await settle(pilot)
        assert drawn == [1] and "!" in screen_lines(cases)[1][:2]  # bram's row, marked urgent now


async def test_enter_on_a_row_still_being_read_opens_its_case_once_the_row_is_there(store, monkeypatch):
    """After a jump to the end of a long view its last page is still being read: enter on that blank
    row opens the case as soon as the row is there. (It did nothing, and said nothing.)"""
    import threading

    from webcare_tui.store.inbox import InboxQueries
    from webcare_tui.widgets.case_list import PAGE

    ingest(store, [msg(i * MINUTE, author=f"klant{i}", text="Waar blijft mijn pakket?") for i in range(PAGE + 20)])
    reading, go = threading.Event(), threading.Event()
    page_cases = InboxQueries.page_cases

    def held_after_the_first(self, query, sort, **where):  # the pages after the first (the views' first pages go on)
        if (where.get("offset") or where.get("after")) and threading.current_thread().name.startswith("webcare-reads"):
            reading.set()
            go.wait(10)
        return page_cases(self, query, sort, **where)

    app = make_app(Config(), store, connectors={}, clock=lambda: T0 + 3 * HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.count == PAGE + 20, "the view to be counted")
        monkeypatch.setattr(InboxQueries, "page_cases", held_after_the_first)
        try:
            await pilot.press("G")
            await wait_for(pilot, reading.is_set, "the last page to be read")
            await pilot.press("enter")  # on the last row, not read yet
            await pilot.pause()
            assert cases.current_row() is None and isinstance(app.screen, InboxScreen)
        finally:
            go.set()
        await wait_for(pilot, lambda: isinstance(app.screen, CaseScreen), "the case to open")
        assert app.screen.case_id == cases.current_row().id


async def test_the_ui_thread_never_runs_sql(team_inbox, monkeypatch):
    """An agent's day in keys: views, search, a case and its actions, a macro and its undo, a bulk
    action, the dashboard and alerts. Every SQL statement runs on a reader or the writer thread."""
    import sqlite3
    import threading

    on_ui_thread: list[str] = []
    running = threading.Event()

    def watch(conn: sqlite3.Connection) -> sqlite3.Connection:
        def statement(sql: str) -> None:
            if running.is_set() and threading.current_thread() is threading.main_thread():
                on_ui_thread.append(sql)

        conn.set_trace_callback(statement)
        return conn

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: watch(connect(*args, **kwargs)))
    watch(team_inbox.conn)
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        running.set()
        await press(pilot, "3", "2", "3", "s", "j", "k", "slash", *"wifi", "escape", "escape")
        await press(pilot, "enter", "P", "p", "o", "l", *"Storing", "enter", "enter", "a", *"noah", "enter")
        await press(pilot, "n", *"gebeld", "enter", "r", *"Wij kijken ernaar", "ctrl+s", "escape")
        await press(pilot, "j", "space", "space", "i", "n", "u", "c", "f2", "f2", "exclamation_mark", "escape")
        running.clear()
    assert on_ui_thread == []
    cases = [team_inbox.get_case(case["id"]) for case in team_inbox.list_cases()]  # the keys did act:
    assert any(case["priority"] for case in cases) and any(case["owner"] == "noah" for case in cases)
    assert any(team_inbox.case_memos(case["id"]) for case in cases)
    assert any(team_inbox.case_outbox(case["id"]) for case in cases)
