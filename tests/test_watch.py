"""`webcare watch`: the headless runner end to end, its stop on SIGTERM, and its plain failures."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from test_notify import WAIT, WebhookServer, _Store, hook  # noqa: F401 (the fixture)

from webcare_tui import cli
from webcare_tui.config import Account, load_config
from webcare_tui.connectors.base import Connector, FetchResult
from webcare_tui.model import Direction, Message, Visibility
from webcare_tui.notify import build_channels
from webcare_tui.watch import Watch

CONFIG = """\
[[rule]]
name = "Nepaccount"
words = ["nep account", "fake account"]
alert = "Possible fake account impersonating us"

[[notify]]
name = "hook"
kind = "webhook"
format = "slack"
url = "{url}"
kinds = ["rule"]
"""


class OnePost(Connector):
    """A platform with one new post, then nothing."""

    platform = "x"

    def __init__(self, text: str) -> None:
        super().__init__(Account("brand-x", "x"), "sekrit-x-token")
        self.text = text

    async def fetch(self, cursor: str | None) -> FetchResult:
        if cursor:
            return FetchResult([], cursor)
        now = int(time.time())
        return FetchResult([Message(platform="x", account="brand-x", external_id="p1", author_id="u1",
                                    author_handle="@bol_klantenservice_nl", author_name="Bol Support",
                                    text=self.text, created_at=now - 60, direction=Direction.IN,
                                    visibility=Visibility.PUBLIC, author_followers=12)], "c1")

    async def send_reply(self, reply):  # pragma: no cover (nothing is sent in these tests)
        raise NotImplementedError


async def test_a_post_matching_an_alert_rule_is_synced_routed_and_delivered_once(tmp_path, hook):  # noqa: F811
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=hook.url), encoding="utf-8")
    config = load_config(path)
    with _Store(tmp_path / "webcare.db") as store:
        post = OnePost("Pas op: dit is een nep account van @bol, ze vragen om je <b>pincode</b> & meer")
        watch = Watch(config, store, {"brand-x": post}, build_channels(config, lambda name: None),
                      alert_interval=0.2, tick=0.05, sync_interval=0.05)
        stop = asyncio.Event()
        serving = asyncio.create_task(watch.serve(stop))
        got = await asyncio.to_thread(hook.next)
        stop.set()
        await asyncio.wait_for(serving, WAIT)
        import json

        text = json.loads(got["body"])["text"]
        assert text == ("[high] Possible fake account impersonating us: case 1 (@\u2060bol_klantenservice_nl, x):"
                        " Pas op: dit is een nep account van @\u2060bol, ze vragen om je &lt;b&gt;pincode&lt;/b&gt;"
                        " &amp; meer")
        assert [(row["kind"], row["state"]) for row in store.notify_rows()] == [("rule", "sent")]

        # started again (a restart): the alert is still there, and is not sent again
        again = Watch(config, store, {}, build_channels(config, lambda name: None))
        assert await again.check_once() == 0
        assert await again.notifier.deliver("hook") == []
        hook.nothing_more()


def test_a_wrong_notify_block_is_one_plain_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url="ftp://example.org"), encoding="utf-8")
    assert cli.main(["--config", str(path), "--db", str(tmp_path / "w.db"), "watch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"webcare: {path}:10: notify.url: url is the webhook's address") and err.count("\n") == 1


def test_watch_without_a_notify_block_says_what_to_add(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[agent]\nid = \"sanne\"\n", encoding="utf-8")
    assert cli.main(["--config", str(path), "--db", str(tmp_path / "w.db"), "watch"]) == 2
    err = capsys.readouterr().err
    assert err == f"webcare: {path}: no [[notify]] block: add one to say where alerts go (kind = \"matrix\"," \
                  " \"email\" or \"webhook\"; see the README)\n"


# the `webcare` command in a process of its own, with the notify queries mixed into the store
RUNNER = """
import sys
from webcare_tui import cli
from webcare_tui.store import Store
from webcare_tui.store.notify import NotifyQueries
if not issubclass(Store, NotifyQueries):
    class _Store(Store, NotifyQueries):
        pass
    cli.open_store = lambda db=None: _Store(db)
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_watch_stops_cleanly_on_sigterm_and_ctrl_c(tmp_path, hook, signum):  # noqa: F811
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=hook.url), encoding="utf-8")
    env = os.environ | {"WEBCARE_LOG": str(tmp_path / "webcare.log")}
    with subprocess.Popen([sys.executable, "-c", RUNNER, "--config", str(path), "--db", str(tmp_path / "w.db"),
                           "watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in process.stdout or ():
                lines.put(line)
            lines.put("(end of output)")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=30)
            assert first.startswith("webcare watch: accounts none") and "channels hook" in first, first
            process.send_signal(signum)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        reader.join(timeout=10)
        assert lines.get(timeout=5) == "webcare watch: stopped\n"
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
