"""The http(s):// backend: a participant with only an RPC URL, a key in the env and the file.

A small proxy in front of anvil answers 503 / 429 to the first requests, to show that
transient RPC errors are retried with backoff and the call still succeeds, once.
"""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from typing import ClassVar

import pytest

from federation import errors
from federation.chain.anvil import AnvilChain, find_anvil
from federation.keys import ENV_PRIVATE_KEY, dev_signers
from federation.ledger import Ledger
from federation.tx import TxPolicy

pytestmark = pytest.mark.skipif(
    find_anvil() is None, reason="anvil binary absent: run make setup-contracts"
)
TOKEN = 10**18


class _FlakyProxy(http.server.BaseHTTPRequestHandler):
    upstream = ""
    failures: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.failures:
            self.send_response(self.failures.pop(0))
            self.end_headers()
            return
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            data = resp.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilChain, str]]:
    chain = AnvilChain()
    admin = Ledger.deploy(chain)
    participant = dev_signers(3)[2]
    admin.transfer_tokens(participant.address, 100 * TOKEN)
    path = tmp_path_factory.mktemp("dep") / "deployment.json"
    admin.deployment.save(path)
    yield chain, str(path)
    chain.close()


@pytest.fixture
def proxy(node: tuple[AnvilChain, str]) -> Iterator[type[_FlakyProxy]]:
    handler = type("Proxy", (_FlakyProxy,), {"upstream": node[0].rpc_url, "failures": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


def test_participant_needs_only_url_key_and_file(
    node: tuple[AnvilChain, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, path = node
    key_holder = dev_signers(3)[2]
    monkeypatch.setenv(ENV_PRIVATE_KEY, "0x" + bytes(key_holder.key).hex())
    ledger = Ledger.open(chain.rpc_url, path)
    assert ledger.address == key_holder.address
    assert not ledger.chain.is_local
    ledger.stake(20 * TOKEN)
    assert ledger.stake_of().active >= 20 * TOKEN
    ledger.request_unbond(TOKEN)
    with pytest.raises(errors.NothingToWithdraw):  # generated classes via federation.errors
        ledger.withdraw()


def test_transient_http_errors_are_retried(
    node: tuple[AnvilChain, str], proxy: type[_FlakyProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = node
    key_holder = dev_signers(3)[2]
    monkeypatch.setenv(ENV_PRIVATE_KEY, "0x" + bytes(key_holder.key).hex())
    ledger = Ledger.open(proxy.url, path, policy=TxPolicy(backoff_base_s=0.01))  # type: ignore[attr-defined]
    before = ledger.stake_of().active
    proxy.failures.extend([503, 429, 502])
    ledger.top_up(TOKEN)
    assert not proxy.failures
    assert ledger.stake_of().active == before + TOKEN


def test_rpc_that_keeps_failing_gives_up_clearly(
    node: tuple[AnvilChain, str], proxy: type[_FlakyProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = node
    monkeypatch.setenv(ENV_PRIVATE_KEY, "0x" + bytes(dev_signers(3)[2].key).hex())
    ledger = Ledger.open(proxy.url, path, policy=TxPolicy(backoff_base_s=0.0, max_retries=2))  # type: ignore[attr-defined]
    proxy.failures.extend([503] * 10)
    with pytest.raises(errors.TransientRpcError, match="another endpoint"):
        ledger.stake_of()
