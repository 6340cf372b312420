"""The staked Flower federation through the real ServerApp, wrapper strategy, ClientApp and
mods, on `InProcessGrid` (no Ray): exclusions with reasons, slashes, settlement, claims,
accounting to the wei and `verify` of every round. `tests/test_flwr_run.py` repeats the
key cases through `flwr run`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from flwr.app import ConfigRecord, Context, Message, RecordDict

from federation.errors import ConfigError, KeyLoadError
from federation.flower.client_mod import fedstake_mod, identity_reply, node_signer
from federation.flower.records import IDENTIFY, IDENTIFY_MESSAGE_TYPE, IDENTITY, run_id_bytes
from federation.flower.settings import RunSettings, run_config
from federation.keys import dev_signer, generate
from federation.protocol.eip712 import Domain, NodeBinding, recover_node_binding
from simulations.flower_app import client_app, run
from simulations.inprocess_grid import InProcessGrid

ATTACKS = {
    0: "sign-flip",
    1: "nan",
    2: "wrong-shape",
    3: "forged-signature",
    4: "replay",
    5: "free-rider",
    6: "impersonate-7",
    8: "forged-hash",
}
UNSTAKED = 9
NODES = 14


def _run(tmp_path: Path, nodes: int, **overrides: Any) -> dict[str, Any]:
    cfg = run_config(artifact_dir=str(tmp_path / "runs"), **overrides)
    return run(InProcessGrid(client_app, nodes, cfg), cfg)


def _address(pid: int) -> str:
    return dev_signer(1 + pid).address


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One 3-round run with every kind of misbehaviour, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("attacked")
    return _run(
        tmp,
        NODES,
        num_server_rounds=3,
        strategy="multi-krum",
        f=2,
        behaviours=",".join(f"{p}:{b}" for p, b in ATTACKS.items()),
        unstaked_partitions=str(UNSTAKED),
        local_epochs=2,
        learning_rate=0.3,
    )


def _exclusions(summary: dict[str, Any], pid: int) -> list[tuple[str, str | None]]:
    who = _address(pid)
    return [
        (e["code"], e["reason"])
        for r in summary["rounds"]
        for e in r["exclusions"]
        if e["participant"] == who
    ]


def test_every_round_verifies_and_accounting_balances(attacked: dict[str, Any]) -> None:
    assert len(attacked["rounds"]) == 3
    assert attacked["accounting"]["balanced"], attacked["accounting"]
    assert attacked["verify"] and all(v["ok"] for v in attacked["verify"].values())


@pytest.mark.parametrize(
    ("pid", "code", "reason", "rounds"),
    [
        (1, "non-finite", "MALFORMED", 1),  # provable: jailed at once, not selected again
        (2, "shape", "MALFORMED", 1),
        (3, "bad-signature", None, 3),
        (8, "forged-hash", "FORGED_HASH", 3),  # judged: a strike each round
    ],
)
def test_bad_replies_are_excluded_with_their_reason(
    attacked: dict[str, Any], pid: int, code: str, reason: str | None, rounds: int
) -> None:
    assert _exclusions(attacked, pid) == [(code, reason)] * rounds


def test_provable_faults_are_slashed_with_a_proof_and_jail(attacked: dict[str, Any]) -> None:
    """The NaN and the wrong shape are proven on-chain in round 1 (fault proof in the
    manifest, the contract's provable size) and their senders sit out the next rounds."""
    first = attacked["rounds"][0]
    slashed = {s["participant"]: (s["reason"], s["bps"]) for s in first["slashes"]}
    excluded = {e["participant"]: e for e in first["exclusions"]}
    for pid in (1, 2):
        assert slashed[_address(pid)] == ("MALFORMED", 1_000)  # the contract's provable bps
        assert excluded[_address(pid)]["proof"]  # checked by the FaultVerifier at finalize
    assert attacked["refused"]["not-eligible"] >= 2 * 2  # both, in rounds 2 and 3


def test_signed_faults_are_slashed_unsigned_ones_are_not(attacked: dict[str, Any]) -> None:
    slashed = {s["participant"] for r in attacked["rounds"] for s in r["slashes"]}
    for pid in (1, 2, 8):  # the participant's own signature commits to the fault
        assert _address(pid) in slashed
    assert _address(3) not in slashed  # a forged signature proves nothing about pid 3
    honest = [p for p in range(NODES) if p not in ATTACKS and p not in (7, UNSTAKED)]
    assert not slashed & {_address(p) for p in honest}


def test_replayed_signature_is_excluded_after_round_one(attacked: dict[str, Any]) -> None:
    assert _exclusions(attacked, 4) == [("replayed", None)] * 2


def test_sign_flip_is_slashed_and_settled(attacked: dict[str, Any]) -> None:
    who = _address(0)
    slashes = [s for r in attacked["rounds"] for s in r["slashes"] if s["participant"] == who]
    assert slashes and all(s["reason"] == "BYZANTINE" for s in slashes)
    assert all(int(r["rewards"].get(who, 0)) == 0 for r in attacked["rounds"])
    assert int(attacked["participants"][who]["stake"]) < 100 * 10**18
    assert set(attacked["settle_gas"]) == {str(r["round_id"]) for r in attacked["rounds"]}


def test_free_rider_earns_at_most_a_tenth_of_an_honest_reward(attacked: dict[str, Any]) -> None:
    honest = [_address(p) for p in range(NODES) if p not in ATTACKS and p not in (7, UNSTAKED)]
    rider = _address(5)
    paid = {a: sum(int(r["rewards"].get(a, 0)) for r in attacked["rounds"]) for a in honest}
    mean_honest = sum(paid.values()) / len(paid)
    ridden = sum(int(r["rewards"].get(rider, 0)) for r in attacked["rounds"])
    assert all(v > 0 for v in paid.values()), paid
    assert ridden <= 0.1 * mean_honest


def test_unstaked_and_doubly_claimed_nodes_get_no_train_message(attacked: dict[str, Any]) -> None:
    assert attacked["refused"]["not-eligible"] >= 1
    assert attacked["refused"]["address-taken"] == 2  # both nodes claiming one address
    selected = {a for r in attacked["rounds"] for a in r["valid"] + r["absent"]}
    selected |= {e["participant"] for r in attacked["rounds"] for e in r["exclusions"]}
    assert _address(UNSTAKED) not in selected
    assert _address(7) not in selected  # pid 6 claims pid 7's key: neither trains


def test_attacked_model_still_learns(attacked: dict[str, Any]) -> None:
    acc = attacked["accuracy"]
    assert acc[3] > acc[0] + 0.2, acc


@pytest.mark.parametrize("strategy", ["fedavg", "flwr-krum"])
def test_honest_run_pays_every_participant(tmp_path: Path, strategy: str) -> None:
    summary = _run(tmp_path, 5, num_server_rounds=2, strategy=strategy, f=1)
    assert summary["accounting"]["balanced"]
    assert all(v["ok"] for v in summary["verify"].values())
    for r in summary["rounds"]:
        assert not r["exclusions"] and not r["slashes"] and not r["absent"]
    everyone = {_address(p) for p in range(5)}
    for r in summary["rounds"]:
        if strategy == "fedavg":
            assert {a for a, v in r["rewards"].items() if int(v) > 0} == everyone
        assert sum(int(v) for v in r["rewards"].values()) == 30 * 10**18
    wallets = {a: int(v["wallet"]) for a, v in summary["participants"].items()}
    assert sum(wallets.values()) == sum(
        int(v) for r in summary["rounds"] for v in r["rewards"].values()
    )  # every reward was claimed to its participant, none twice


def test_a_crashed_client_is_absent_not_slashed(tmp_path: Path) -> None:
    summary = _run(tmp_path, 4, num_server_rounds=1, strategy="fedavg", f=0, behaviours="1:crash")
    (r,) = summary["rounds"]
    assert r["absent"] == [_address(1)]
    assert int(r["rewards"].get(_address(1), 0)) == 0
    assert not r["slashes"] and not r["exclusions"]
    assert summary["verify"][1]["ok"] and summary["accounting"]["balanced"]


def test_flowers_dp_clipping_composes_and_signatures_verify(tmp_path: Path) -> None:
    """Client-side fixedclipping_mod inside fedstake_mod, Flower's client-side clipping
    wrapper on the server: the signed (clipped) updates validate, and without server
    noise the round is reproducible by `verify`."""
    summary = _run(tmp_path, 5, num_server_rounds=2, strategy="fedavg", dp_clipping_norm=0.5, f=0)
    for r in summary["rounds"]:
        assert not r["exclusions"], r["exclusions"]
        assert len(r["valid"]) == 5
    assert all(v["ok"] for v in summary["verify"].values())


def test_dp_noise_makes_the_aggregate_unreproducible_but_decisions_verify(tmp_path: Path) -> None:
    summary = _run(
        tmp_path,
        4,
        num_server_rounds=1,
        strategy="fedavg",
        dp_clipping_norm=0.5,
        dp_noise_multiplier=0.1,
        f=0,
    )
    report = summary["verify"][1]
    assert report["ok"], report
    checks = {c["name"]: c for c in report["report"]["checks"]}
    agg = next(c for n, c in checks.items() if "aggregate" in n)
    assert "skipped" in str(agg).lower()


def test_unknown_strategy_or_key_is_an_error_at_start_up() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'krumm'"):
        RunSettings.from_run_config(run_config(strategy="krumm"))
    with pytest.raises(ConfigError, match="unknown run-config key"):
        RunSettings.from_run_config({**run_config(), "aggregatr": "krum"})
    with pytest.raises(ConfigError, match="expected int"):
        RunSettings.from_run_config(run_config(f="two"))


# -- the client mod on its own ---------------------------------------------------------------
def _context(node_config: dict[str, Any], run_cfg: dict[str, Any] | None = None) -> Context:
    return Context(
        run_id=3,
        node_id=42,
        node_config=node_config,
        state=RecordDict(),
        run_config=run_cfg or {},
    )


def _query(grid: InProcessGrid) -> Message:
    rec = ConfigRecord(
        {"nonce": b"\x05" * 32, "chain-id": 31337, "contract": "0x" + "ab" * 20, "expiry": 99}
    )
    return Message(
        content=RecordDict({IDENTIFY: rec}), dst_node_id=42, message_type=IDENTIFY_MESSAGE_TYPE
    )


def test_node_without_a_key_fails_with_advice_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KeyLoadError, match="fedstake key new") as err:
        node_signer(_context({}))
    assert "fedstake-key-env" in str(err.value)
    # The advice works: `fedstake key new FILE`, then the keystore and its password variable.
    from federation.cli import main as cli

    monkeypatch.setenv("FEDSTAKE_KEYSTORE_PASSWORD", "pw")
    monkeypatch.setenv("MY_PW", "pw")
    assert cli(["key", "new", str(tmp_path / "k.json")]) == 0
    ctx = _context(
        {"fedstake-keystore": str(tmp_path / "k.json"), "fedstake-password-env": "MY_PW"}
    )
    stored = json.loads((tmp_path / "k.json").read_text())["address"]
    assert node_signer(ctx).address[2:].lower() == stored.lower().removeprefix("0x")


def test_identity_reply_binds_node_run_and_nonce() -> None:
    grid = InProcessGrid(client_app, 1, run_config())
    key = generate()
    os.environ["FEDSTAKE_TEST_KEY"] = "0x" + bytes(key.key).hex()
    try:
        reply = identity_reply(_query(grid), _context({"fedstake-key-env": "FEDSTAKE_TEST_KEY"}))
    finally:
        del os.environ["FEDSTAKE_TEST_KEY"]
    rec = reply.content.config_records[IDENTITY]
    domain = Domain(31337, "0x" + "ab" * 20)
    good = NodeBinding(key.address, 42, run_id_bytes(1), 99, b"\x05" * 32)
    assert recover_node_binding(domain, good, bytes(rec["signature"])) == key.address
    other_nonce = NodeBinding(key.address, 42, run_id_bytes(1), 99, b"\x06" * 32)
    assert recover_node_binding(domain, other_nonce, bytes(rec["signature"])) != key.address
    assert fedstake_mod  # the mod answers the same query (exercised by the runs above)


def test_wrapper_requires_the_engine_to_aggregate_with_the_inner_strategy(tmp_path: Path) -> None:
    """The README's way of wrapping an existing strategy works; a mismatch is refused."""
    from flwr.serverapp.strategy import FedAvg

    from federation.aggregation import RuleAggregator
    from federation.artifact_store import LocalArtifactStore
    from federation.engine import RoundEngine
    from federation.flower import StakedStrategy
    from federation.flower.inner import InnerStrategyAggregator
    from federation.journal import Journal
    from federation.ledger import Ledger

    ledger = Ledger.deploy("inprocess://")
    store = LocalArtifactStore(tmp_path)
    inner = FedAvg(fraction_evaluate=0.0)
    engine = RoundEngine(
        ledger,
        store,
        InnerStrategyAggregator.wrapping(inner),
        journal=Journal(tmp_path / "journal.jsonl"),
    )
    assert StakedStrategy(inner, engine, budget=10**18).strategy is inner
    with pytest.raises(ValueError, match="inner strategy decides the aggregate"):
        StakedStrategy(inner, RoundEngine(ledger, store, RuleAggregator("median")), budget=1)
    with pytest.raises(ValueError, match="inner strategy decides the aggregate"):
        StakedStrategy(FedAvg(), engine, budget=1)
