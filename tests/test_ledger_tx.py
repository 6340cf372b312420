"""Transaction layer: retries, fees, nonces under threads, idempotent broadcast, key hygiene."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest
import requests

from federation.chain.http import redact_url
from federation.errors import KeyLoadError, TransientRpcError
from federation.keys import (
    ENV_KEYSTORE,
    ENV_PRIVATE_KEY,
    from_env,
    from_keystore,
    generate,
    write_keystore,
)
from federation.revert import RevertDecoder
from federation.tx import TxPolicy, TxSender, is_transient, with_retries
from tests.conftest import TOKEN, Env

FAST = TxPolicy(backoff_base_s=0.0, max_retries=3)


def _http_error(status: int) -> requests.exceptions.HTTPError:
    resp = requests.Response()
    resp.status_code = status
    return requests.exceptions.HTTPError(f"{status}", response=resp)


def test_retries_transient_errors_then_succeeds() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return "ok"

    assert with_retries(flaky, FAST, "test") == "ok"
    assert len(calls) == 3


def test_gives_up_after_max_retries() -> None:
    def down() -> None:
        raise _http_error(503)

    with pytest.raises(TransientRpcError, match="after 3 retries"):
        with_retries(down, FAST, "test")


def test_reverts_are_never_retried() -> None:
    calls = []
    decoder = RevertDecoder([[{"type": "error", "name": "NotStaked", "inputs": []}]])

    def reverts() -> None:
        calls.append(1)
        raise decoder.decode(bytes.fromhex("039f2e18"))

    with pytest.raises(Exception) as exc:
        with_retries(reverts, FAST, "test")
    assert len(calls) == 1
    assert not is_transient(exc.value)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_http_error(429), True),
        (_http_error(502), True),
        (_http_error(400), False),
        (requests.exceptions.Timeout("read timed out"), True),
        (ValueError("execution reverted: rate limit"), False),
        (ValueError("invalid argument"), False),
    ],
)
def test_transient_classification(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def _fake_w3(block: dict) -> SimpleNamespace:
    eth = SimpleNamespace(get_block=lambda _: block, gas_price=7, max_priority_fee=3)
    return SimpleNamespace(eth=eth)


def test_fees_eip1559_and_legacy_fallback() -> None:
    legacy = TxSender(_fake_w3({"number": 1}), RevertDecoder(), FAST)  # type: ignore[arg-type]
    assert legacy.fee_fields() == {"gasPrice": 7}
    london = TxSender(_fake_w3({"baseFeePerGas": 100}), RevertDecoder(), FAST)  # type: ignore[arg-type]
    assert london.fee_fields() == {"maxPriorityFeePerGas": 3, "maxFeePerGas": 203}


def test_concurrent_sends_from_several_accounts(env: Env) -> None:
    """Threads share one TxSender; per-account nonces must never collide."""
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            p = env.participants[i % 3]
            p.top_up(TOKEN)
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for p in env.participants[:3]:
        assert p.stake_of().active == 100 * TOKEN + 3 * TOKEN


def test_rebroadcast_of_a_landed_transaction_is_recognised(env: Env) -> None:
    a = env.admin
    tx = a.tx
    me = a.signer
    data = a.token.encode("transfer", env.participants[0].address, 1)
    with tx.nonces.lock(me.address):
        nonce = tx.nonces.reserve(me.address)
    raw = me.sign_transaction(
        {
            "to": a.token.address,
            "data": data,
            "value": 0,
            "gas": 100_000,
            "nonce": nonce,
            "chainId": env.chain.chain_id,
            **tx.fee_fields(),
        }
    )
    first = tx._broadcast(raw, "first")
    tx.wait(first)
    assert tx._broadcast(raw, "again") == first  # not sent twice
    assert a.token_balance(env.participants[0].address) == 10 * 100 * TOKEN - 100 * TOKEN + 1


def test_mined_revert_is_decoded(env: Env) -> None:
    """A transaction sent with a fixed gas (no estimate) that reverts on-chain."""
    p = env.participants[0]
    with pytest.raises(p.errors.InsufficientActiveStake):
        p.stake_manager.send(p.signer, "requestUnbond", 10**30, gas=200_000)


def test_waits_for_confirmations(env: Env) -> None:
    a = env.admin
    sender = TxSender(env.chain.w3, a.tx.decoder, TxPolicy(confirmations=3, poll_interval_s=0.01))
    a.tx.nonces.reset()
    out = {}

    def send() -> None:
        out["r"] = sender.send(a.signer, a.token.address, a.token.encode("approve", a.address, 1))

    t = threading.Thread(target=send)
    t.start()
    t.join(timeout=1.0)
    assert t.is_alive(), "returned before 3 confirmations"
    env.chain.mine(2)
    t.join(timeout=10)
    assert not t.is_alive() and out["r"].block_number <= env.chain.w3.eth.block_number - 2
    a.tx.nonces.reset()


def test_private_key_never_shown(caplog: pytest.LogCaptureFixture, env: Env) -> None:
    s = generate()
    key_hex = bytes(s.key).hex()
    assert key_hex not in repr(s) and key_hex not in str(s)
    assert "redacted" in repr(s)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)
    caplog.set_level(logging.DEBUG)
    env.admin.transfer_tokens(env.participants[0].address, 1)
    assert key_hex not in caplog.text
    a_key = bytes(env.admin.signer.key).hex()
    assert a_key not in caplog.text and a_key not in repr(env.admin)


def test_malformed_key_is_not_echoed() -> None:
    with pytest.raises(KeyLoadError) as exc:
        from_env({ENV_PRIVATE_KEY: "0xdeadbeefsecret"})
    assert "deadbeef" not in str(exc.value)


def test_keystore_roundtrip_and_errors(tmp_path) -> None:
    s = generate()
    path = write_keystore(s, tmp_path / "key.json", "pw", iterations=1000)
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert from_keystore(path, "pw").address == s.address
    assert (
        from_env({ENV_KEYSTORE: str(path), "FEDSTAKE_KEYSTORE_PASSWORD": "pw"}).address == s.address
    )
    with pytest.raises(KeyLoadError, match="wrong password"):
        from_keystore(path, "nope")
    with pytest.raises(KeyLoadError, match=ENV_PRIVATE_KEY):
        from_env({})


def test_rpc_urls_are_redacted() -> None:
    assert redact_url("https://user:pw@rpc.example.org/v3/abcdef0123456789?key=x") == (
        "https://rpc.example.org/v3/…"
    )


def test_event_pages_shrink_when_the_node_refuses_a_range() -> None:
    from federation.events import iter_events

    calls: list[tuple[int, int]] = []

    def get_logs(argument_filters=None, from_block=0, to_block=0):
        calls.append((from_block, to_block))
        if to_block - from_block > 3:
            raise ValueError("query exceeds max block range 4")
        return [
            {"blockNumber": b, "logIndex": 0, "transactionHash": b"\x01" * 32, "args": {"n": b}}
            for b in range(from_block, to_block + 1)
            if b % 5 == 0
        ]

    event = SimpleNamespace(get_logs=get_logs)
    contract = SimpleNamespace(
        contract=SimpleNamespace(events=SimpleNamespace(Staked=lambda: event)),
        sender=SimpleNamespace(
            w3=SimpleNamespace(eth=SimpleNamespace(block_number=20)), policy=FAST
        ),
    )
    records = list(iter_events(contract, "Staked", 0, None, page=16))  # type: ignore[arg-type]
    assert [r.block_number for r in records] == [0, 5, 10, 15, 20]
    assert max(e - s for s, e in calls if e - s <= 3) <= 3
