"""The results sum tree: Python (federation/protocol/sum_tree.py) and the contract's SumTree
library agree (hypothesis, embedded chain).

The library runs through a tiny harness (contracts/test/mocks/SumTreeHarness.sol, exported
as federation/artifacts/SumTreeHarness.json) so the exact on-chain code answers: Python's
root and total equal the contract's for every leaf's proof, every proof verifies, an altered
sibling hash or sum reaches another (root, total) in both, malformed proofs and sums that
overflow revert in both, and no leaf's amount can exceed the total its path reaches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from web3.contract import Contract

from federation.chain import connect
from federation.deploy import load_artifact
from federation.protocol.merkle import result_leaf
from federation.protocol.sum_tree import (
    MalformedSumProofError,
    SumOverflowError,
    SumProof,
    SumTree,
    node,
    result_sum_tree,
    root_of,
    verify,
)
from federation.revert import is_revert, revert_data_from
from federation.types import RewardEntry

CHAIN = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
bytes32 = st.binary(min_size=32, max_size=32)
amounts = st.one_of(st.integers(0, 10**24), st.integers(0, 2**200))
entries = st.lists(st.tuples(bytes32, amounts), min_size=1, max_size=40)
MALFORMED = keccak(text="MalformedSumProof()")[:4]


@pytest.fixture(scope="module")
def harness() -> Iterator[Contract]:
    chain = connect("inprocess://")
    art = load_artifact("SumTreeHarness")
    w3 = chain.w3
    tx = (
        w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        .constructor()
        .transact({"from": chain.dev_signers()[0].address})
    )
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    yield w3.eth.contract(address=address, abi=art.abi)
    chain.close()


Outcome = tuple[bytes, int] | str


def onchain(harness: Contract, leaf: bytes, amount: int, proof: SumProof) -> Outcome:
    """The contract's (root, total), or "malformed" / "overflow" for its reverts."""
    try:
        h, s = harness.functions.rootOf(leaf, amount, proof.as_tuple()).call()
    except Exception as exc:
        if not is_revert(exc):
            raise
        data = revert_data_from(exc) or b""
        if data[:4] == MALFORMED:
            return "malformed"
        assert data[:4] == keccak(text="Panic(uint256)")[:4] and data[-1] == 0x11, data.hex()
        return "overflow"
    return bytes(h), int(s)


def offchain(leaf: bytes, amount: int, proof: SumProof) -> Outcome:
    try:
        return root_of(leaf, amount, proof)
    except MalformedSumProofError:
        return "malformed"
    except SumOverflowError:
        return "overflow"


def both(harness: Contract, leaf: bytes, amount: int, proof: SumProof) -> Outcome:
    mine, theirs = offchain(leaf, amount, proof), onchain(harness, leaf, amount, proof)
    assert mine == theirs, f"python {mine} != contract {theirs}"
    return mine


def test_definitions_match_the_contract(harness: Contract) -> None:
    a, b = keccak(text="a"), keccak(text="b")
    assert harness.functions.node(a, 5, b, 7).call() == node(a, 5, b, 7)
    p = to_checksum_address("0x" + "12" * 20)
    assert harness.functions.resultLeaf(3, p, b, 4, 5).call() == result_leaf(3, p, b, 4, 5)


def test_single_leaf_and_padding() -> None:
    leaf = keccak(text="only")
    t = SumTree([(leaf, 9)])
    assert (t.root, t.total, t.proof(0)) == (leaf, 9, SumProof(0, (), ()))
    x, y, z = (keccak(text=c) for c in "xyz")
    t3 = SumTree([(x, 1), (y, 2), (z, 3)])
    assert t3.root == node(node(x, 1, y, 2), 3, node(z, 3, bytes(32), 0), 3)
    assert t3.total == 6
    with pytest.raises(ValueError):
        SumTree([])
    with pytest.raises(ValueError):
        SumTree([(x, 2**255), (y, 2**255)])


@CHAIN
@given(items=entries, data=st.data())
def test_root_total_and_every_proof_agree(
    harness: Contract, items: list[tuple[bytes, int]], data: st.DataObject
) -> None:
    t = SumTree(items)
    assert t.total == sum(a for _, a in items)
    assert len(t) == len(items) and t.leaves == items
    for i, (leaf, amount) in enumerate(items):
        p = t.proof(i)
        assert t.verify(i) and verify(t.root, t.total, leaf, amount, p)
        # the sums on a path add up to the total: no leaf can exceed it
        assert amount + sum(p.sums) == t.total and amount <= t.total
    picks = data.draw(st.lists(st.integers(0, len(items) - 1), min_size=1, max_size=3))
    for i in picks:
        leaf, amount = items[i]
        assert both(harness, leaf, amount, t.proof(i)) == (t.root, t.total)


@CHAIN
@given(
    items=st.lists(st.tuples(bytes32, amounts), min_size=2, max_size=40),
    data=st.data(),
)
def test_altered_hashes_and_sums_fail_in_both(
    harness: Contract, items: list[tuple[bytes, int]], data: st.DataObject
) -> None:
    t = SumTree(items)
    i = data.draw(st.integers(0, len(items) - 1))
    leaf, amount = items[i]
    p = t.proof(i)
    level = data.draw(st.integers(0, len(p.hashes) - 1))
    what = data.draw(st.sampled_from(["hash", "sum", "amount", "leaf", "index", "length"]))
    delta = data.draw(st.integers(1, 2**64))
    if what == "hash":
        hashes = list(p.hashes)
        hashes[level] = (int.from_bytes(hashes[level], "big") ^ delta).to_bytes(32, "big")
        p = dataclasses.replace(p, hashes=tuple(hashes))
    elif what == "sum":
        sums = list(p.sums)
        sums[level] = (sums[level] + delta) % 2**256
        p = dataclasses.replace(p, sums=tuple(sums))
    elif what == "amount":
        amount += delta
    elif what == "leaf":
        leaf = (int.from_bytes(leaf, "big") ^ delta).to_bytes(32, "big")
    elif what == "index":
        # equal leaves are interchangeable: moving to another position must fail only when
        # no other position holds the same (leaf, amount) (or the zero padding)
        assume(len(set(items)) == len(items) and (leaf, amount) != (bytes(32), 0))
        p = dataclasses.replace(p, index=p.index ^ (delta % (1 << len(p.hashes)) or 1))
    else:
        p = dataclasses.replace(p, sums=p.sums[:-1])
    out = both(harness, leaf, amount, p)
    assert out != (t.root, t.total)
    assert not verify(t.root, t.total, leaf, amount, p)


@CHAIN
@given(items=st.lists(st.tuples(bytes32, amounts), min_size=2, max_size=16), data=st.data())
def test_overflowing_or_malformed_proofs_revert_in_both(
    harness: Contract, items: list[tuple[bytes, int]], data: st.DataObject
) -> None:
    t = SumTree(items)
    i = data.draw(st.integers(0, len(items) - 1))
    leaf, amount = items[i]
    p = t.proof(i)
    huge = dataclasses.replace(p, sums=(2**256 - 1, *p.sums[1:]))
    assert both(harness, leaf, max(amount, 1), huge) == "overflow"
    beyond = dataclasses.replace(p, index=p.index + (1 << len(p.hashes)))
    assert both(harness, leaf, amount, beyond) == "malformed"
    uneven = dataclasses.replace(p, hashes=(*p.hashes, bytes(32)))
    assert both(harness, leaf, amount, uneven) == "malformed"


@CHAIN
@given(
    round_id=st.integers(0, 2**64),
    rows=st.lists(
        st.tuples(st.integers(1, 2**160 - 1), bytes32, st.integers(0, 10**6), amounts),
        min_size=1,
        max_size=12,
    ),
)
def test_result_sum_tree_claims_verify_onchain(
    harness: Contract, round_id: int, rows: list[tuple[int, bytes, int, int]]
) -> None:
    entries_ = [
        RewardEntry(to_checksum_address(a.to_bytes(20, "big")), u, s, r) for a, u, s, r in rows
    ]
    t = result_sum_tree(round_id, entries_)
    assert (
        t.root
        == result_sum_tree(
            round_id, [(e.participant, e.update_hash, e.score, e.reward) for e in entries_]
        ).root
    )
    assert t.total == sum(e.reward for e in entries_)
    for i, e in enumerate(entries_):
        leaf = harness.functions.resultLeaf(
            round_id, e.participant, e.update_hash, e.score, e.reward
        ).call()
        assert leaf == result_leaf(round_id, e.participant, e.update_hash, e.score, e.reward)
        assert both(harness, leaf, e.reward, t.proof(i)) == (t.root, t.total)
