"""The Matrix connector against a real Synapse homeserver: a customer writes, an agent's macro answers.

Synapse runs as a subprocess on 127.0.0.1 with SQLite in a temporary folder (one per
module). Skips only where matrix-synapse is not installed; .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest
from synapse_server import SynapseServer

from webcare_tui.cases import CaseService
from webcare_tui.config import Account, Agent
from webcare_tui.connectors.matrix import MatrixConnector
from webcare_tui.macro_runner import MacroRunner
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

pytestmark = pytest.mark.skipif(SynapseServer.missing() is not None, reason=SynapseServer.missing() or "")

CLIENT = "/_matrix/client/v3"
TIM = Agent(id="tim", name="Tim Ruiter", initials="TR", signature={"default": "\n\nGroetjes, Tim"})


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = SynapseServer(Path(tmp_path_factory.mktemp("synapse")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Customer:
    """A customer's own Matrix client, speaking the client-server API directly."""

    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str) -> None:
        self.http, self.user_id = http, user_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.since: str | None = None

    async def call(self, method: str, path: str, **kwargs) -> dict:
        response = await self.http.request(method, CLIENT + path, headers=self.headers, **kwargs)
        assert response.is_success, response.text
        return response.json()

    async def send(self, room_id: str, body: str) -> str:
        answer = await self.call("PUT", f"/rooms/{room_id}/send/m.room.message/{uuid.uuid4().hex}",
                                 json={"msgtype": "m.text", "body": body})
        return answer["event_id"]

    async def sync(self) -> dict:
        """The customer's next /sync (incremental after the first: Synapse caches a repeated request)."""
        params = {"timeout": "0"} | ({"since": self.since} if self.since else {})
        synced = await self.call("GET", "/sync", params=params)
        self.since = synced["next_batch"]
        return synced

    async def new_events(self, room_id: str) -> list[dict]:
        """The room's events this customer's /sync shows since the last one (a join may take a moment)."""
        for _ in range(50):
            joined = (await self.sync()).get("rooms", {}).get("join", {})
            if room_id in joined:
                return joined[room_id]["timeline"]["events"]
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.user_id}'s sync shows nothing new in {room_id}")

    async def history(self, room_id: str) -> list[dict]:
        """Every event of the room, newest first (`GET /rooms/{roomId}/messages`)."""
        return (await self.call("GET", f"/rooms/{room_id}/messages", params={"dir": "b", "limit": "100"}))["chunk"]


async def test_a_customer_message_becomes_a_case_and_the_macro_reply_reaches_the_customer_once(synapse, store):
    brand_id, brand_token = synapse.register("webcare")
    anna_id, anna_token = synapse.register("anna", "Anna de Vries 🌷")
    account = Account("brand-matrix", "matrix", {"base_url": synapse.base_url, "user_id": brand_id})
    async with httpx.AsyncClient(base_url=synapse.base_url, timeout=10.0) as http:
        anna = Customer(http, anna_id, anna_token)
        room = await anna.call("POST", "/createRoom", json={
            "is_direct": True, "invite": [brand_id], "preset": "trusted_private_chat"})
        room_id = room["room_id"]
        question = await anna.send(room_id, "Waar blijft mijn pakket? 📦")
        await anna.sync()

        connector = MatrixConnector(account, brand_token)
        try:
            # sync: the invite is accepted, the room's timeline read at once (more=True)
            [status] = await SyncRunner(store, {"brand-matrix": connector}).sync_once()
            assert (status.state, status.new_messages) == ("online", 1), status
            [case] = store.list_cases()
            assert (case["platform"], case["author_id"], case["status"]) == ("matrix", anna_id, "new")
            [message] = store.case_messages(case["id"])
            assert (message["external_id"], message["text"], message["visibility"]) == (
                f"{room_id}|{question}", "Waar blijft mijn pakket? 📦", "private")
            assert store.get_case(case["id"])["author_name"] == "Anna de Vries 🌷"

            # an agent applies a macro with a reply (no grace period); the outbox worker delivers it
            macro = Macro(name="Pakket", reply="Hoi {author.first_name}, we zoeken het voor je uit!", status="pending")
            cases = CaseService(store)
            MacroRunner(store, cases, Outbox(store), TIM, grace=0).apply(macro, [case["id"]])
            worker = OutboxWorker(store, {"brand-matrix": connector})
            assert [d.state for d in await worker.deliver_due()] == ["sent"]
            [row] = store.case_outbox(case["id"])
            reply_text = row["payload"]["text"]
            assert reply_text.startswith("Hoi Anna, we zoeken het voor je uit!")
            sent = store.case_messages(case["id"])[-1]
            assert sent["direction"] == "out" and sent["external_id"].startswith(f"{room_id}|$")

            # the customer's own /sync shows the reply, answering her message
            replies = [e for e in await anna.new_events(room_id)
                       if e["type"] == "m.room.message" and e["sender"] == brand_id]
            assert len(replies) == 1
            assert replies[0]["content"]["body"] == reply_text
            assert replies[0]["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}
            assert sent["external_id"] == f"{room_id}|{replies[0]['event_id']}"

            # the app died mid-send: the row is redelivered with the same txnId and published once
            store.update_outbox(row["id"], int(time.time()), state="sending")
            assert [d.state for d in await worker.recover()] == ["queued"]
            assert [d.state for d in await worker.deliver_due()] == ["sent"]
            replies = [e for e in await anna.history(room_id)
                       if e["type"] == "m.room.message" and e["sender"] == brand_id]
            assert len(replies) == 1
            assert store.case_messages(case["id"])[-1]["external_id"] == sent["external_id"]

            # two hours on, Synapse may have forgotten the txnId: the reply is found in the room by it
            store.update_outbox(row["id"], int(time.time()), state="sending")
            store.conn.execute("UPDATE outbox SET created_at = created_at - 7200 WHERE id = ?", (row["id"],))
            assert [d.state for d in await worker.recover()] == ["sent"]
            assert len([e for e in await anna.history(room_id)
                        if e["type"] == "m.room.message" and e["sender"] == brand_id]) == 1
            assert store.outbox_row(row["id"])["remote_id"] == sent["external_id"]

            # the next sync brings our reply back: already in the case, nothing new
            [status] = await SyncRunner(store, {"brand-matrix": connector}).sync_once()
            assert status.new_messages == 0 and len(store.case_messages(case["id"])) == 2
        finally:
            await connector.aclose()


async def test_a_like_and_a_private_answer_to_a_public_room(synapse, store):
    brand_id, brand_token = synapse.register("brand2")
    bram_id, bram_token = synapse.register("bram", "Bram")
    account = Account("brand-matrix", "matrix", {"base_url": synapse.base_url, "user_id": brand_id})
    async with httpx.AsyncClient(base_url=synapse.base_url, timeout=10.0) as http:
        bram = Customer(http, bram_id, bram_token)
        room = await bram.call("POST", "/createRoom", json={"preset": "public_chat", "name": "Klantenservice",
                                                             "invite": [brand_id]})
        public_id = room["room_id"]
        compliment = await bram.send(public_id, "Top geholpen, dank jullie wel!")
        await bram.sync()
        connector = MatrixConnector(account, brand_token)
        try:
            await SyncRunner(store, {"brand-matrix": connector}).sync_once()
            [case] = store.list_cases()
            assert store.case_messages(case["id"])[0]["visibility"] == "public"
            outbox = Outbox(store)
            outbox.queue_like(case["id"], agent="tim")
            outbox.queue_reply(case["id"], "Mag ik je iets privé vragen?", agent="tim", visibility="private")
            worker = OutboxWorker(store, {"brand-matrix": connector})
            delivered = [d.state for d in await worker.deliver_due()]
            delivered += [d.state for d in await worker.deliver_due()]  # one row per case per round
            assert delivered == ["sent", "sent"]

            reactions = [e for e in await bram.history(public_id) if e["type"] == "m.reaction"]
            assert [(e["sender"], e["content"]["m.relates_to"]) for e in reactions] == [
                (brand_id, {"rel_type": "m.annotation", "event_id": compliment, "key": "👍"})]
            await connector.like(f"{public_id}|{compliment}")  # liking again changes nothing
            assert len([e for e in await bram.history(public_id) if e["type"] == "m.reaction"]) == 1

            # the private answer went to a new direct room that invites bram
            synced = await bram.sync()
            [(direct_id, invite)] = synced["rooms"]["invite"].items()
            mine = next(e for e in invite["invite_state"]["events"] if e.get("state_key") == bram_id)
            assert mine["content"]["is_direct"] is True and mine["sender"] == brand_id
            await bram.call("POST", f"/join/{direct_id}", json={})
            [private] = [e for e in await bram.new_events(direct_id) if e["type"] == "m.room.message"]
            assert private["content"]["body"] == "Mag ik je iets privé vragen?"
            assert store.case_messages(case["id"])[-1]["external_id"] == f"{direct_id}|{private['event_id']}"
        finally:
            await connector.aclose()
