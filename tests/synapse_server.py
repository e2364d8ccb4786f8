"""Provides `SynapseServer`: a real Synapse homeserver in a temporary folder, for integration tests.

It generates Synapse's own config (server name "localhost", SQLite), adds what tests need
on top (a free port on 127.0.0.1, open registration without verification, rate limits
raised, no federation or key servers) and runs `python -m synapse.app.homeserver` as a
subprocess until `stop()`. `SynapseServer.missing()` says why it cannot run, for a skip.
"""

from __future__ import annotations

import importlib.metadata
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

SERVER_NAME = "localhost"
UNLIMITED = {"per_second": 1000, "burst_count": 1000}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _overrides(port: int) -> dict[str, Any]:
    """Settings layered over the generated config (a later config file wins key by key)."""
    return {
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "presence": {"enabled": False},
        "rc_message": UNLIMITED,
        "rc_registration": UNLIMITED,
        "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
        "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
        "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
        "rc_room_creation": UNLIMITED,
    }


class SynapseServer:
    """One Synapse process; `base_url` once started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = None

    @staticmethod
    def missing() -> str | None:
        """Why Synapse cannot run here, or None."""
        try:
            importlib.metadata.distribution("matrix-synapse")
        except importlib.metadata.PackageNotFoundError:
            return "matrix-synapse is not installed (`pip install matrix-synapse`; .ci/run installs it)"
        return None

    def _run(self, *args: str, timeout: float) -> None:
        result = subprocess.run([sys.executable, "-m", "synapse.app.homeserver", *args], cwd=self.folder,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"synapse --generate-config failed: {result.stderr[-2000:]}")

    def start(self, timeout: float = 30.0) -> None:
        """Generate the config, start Synapse and wait until it answers.

        Raises:
            RuntimeError: it did not come up in time (with the end of its log).
        """
        config = self.folder / "homeserver.yaml"
        self._run("--server-name", SERVER_NAME, "--config-path", str(config), "--generate-config",
                  "--report-stats=no", "--data-directory", str(self.folder / "data"), timeout=timeout)
        overrides = self.folder / "overrides.yaml"
        overrides.write_text(json.dumps(_overrides(self.port)))  # JSON is YAML
        self._log = (self.folder / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config), "-c", str(overrides)],
            cwd=self.folder, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if client.get(f"{self.base_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        texts = [path.read_text(errors="replace")[-size:] for path in
                 (self.folder / "stdout.log", self.folder / "homeserver.log") if path.exists()]
        return "\n".join(texts)

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers) and close its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def register(self, username: str, displayname: str | None = None) -> tuple[str, str]:
        """A new account via `POST /register` (m.login.dummy); returns (user_id, access_token)."""
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            response = client.post("/_matrix/client/v3/register", json={
                "username": username, "password": f"pw-{username}-0123456789", "auth": {"type": "m.login.dummy"}})
            response.raise_for_status()
            body = response.json()
            if displayname:
                client.put(f"/_matrix/client/v3/profile/{body['user_id']}/displayname",
                           json={"displayname": displayname},
                           headers={"Authorization": f"Bearer {body['access_token']}"}).raise_for_status()
        return body["user_id"], body["access_token"]
