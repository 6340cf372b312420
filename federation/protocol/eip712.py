"""EIP-712 Commitment and NodeBinding: sign, recover, verify through eth-account.

The types and domain are docs/protocol.md's; the contract (RoundManager) checks the same
struct, so a signature made here is valid slashing evidence on-chain, and one made for
another round, chain or contract is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "fedstake"
DOMAIN_VERSION = "1"

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
COMMITMENT_TYPE = [
    {"name": "roundId", "type": "uint256"},
    {"name": "participant", "type": "address"},
    {"name": "globalModelHash", "type": "bytes32"},
    {"name": "updateHash", "type": "bytes32"},
    {"name": "numExamples", "type": "uint64"},
]
NODE_BINDING_TYPE = [
    {"name": "participant", "type": "address"},
    {"name": "flowerNodeId", "type": "uint64"},
    {"name": "runId", "type": "bytes32"},
    {"name": "nonce", "type": "bytes32"},
    {"name": "expiry", "type": "uint64"},
]


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain: binds a signature to one chain and one RoundManager proxy."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


@dataclass(frozen=True)
class Commitment:
    """A participant's signed claim: "in round R, from model G, I produced update U"."""

    round_id: int
    participant: str
    global_model_hash: bytes
    update_hash: bytes
    num_examples: int

    def message(self) -> dict[str, Any]:
        return {
            "roundId": self.round_id,
            "participant": to_checksum_address(self.participant),
            "globalModelHash": bytes(self.global_model_hash),
            "updateHash": bytes(self.update_hash),
            "numExamples": self.num_examples,
        }

    def as_tuple(self) -> tuple[int, str, bytes, bytes, int]:
        """Struct order, as a contract call argument."""
        m = self.message()
        return (
            m["roundId"],
            m["participant"],
            m["globalModelHash"],
            m["updateHash"],
            m["numExamples"],
        )


@dataclass(frozen=True)
class NodeBinding:
    """Proof that a Flower node holds the key of a (staked) address; checked off-chain.

    ``nonce`` is the coordinator's fresh challenge, so a binding cannot be replayed to
    another query; ``run_id`` is the Flower run id as a big-endian bytes32.
    """

    participant: str
    flower_node_id: int
    run_id: bytes
    expiry: int
    nonce: bytes = b"\x00" * 32

    def message(self) -> dict[str, Any]:
        return {
            "participant": to_checksum_address(self.participant),
            "flowerNodeId": self.flower_node_id,
            "runId": bytes(self.run_id),
            "nonce": bytes(self.nonce),
            "expiry": self.expiry,
        }


def _signable(
    domain: Domain, primary: str, fields: list[dict[str, str]], msg: dict
) -> SignableMessage:
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": _DOMAIN_TYPE, primary: fields},
            "primaryType": primary,
            "domain": domain.as_dict(),
            "message": msg,
        }
    )


def commitment_digest(domain: Domain, commitment: Commitment) -> bytes:
    """The 32-byte EIP-712 digest the contract recomputes (``_hashTypedDataV4``)."""
    s = _signable(domain, "Commitment", COMMITMENT_TYPE, commitment.message())
    return keccak(b"\x19" + s.version + s.header + s.body)


def sign_commitment(domain: Domain, commitment: Commitment, private_key: Any) -> bytes:
    """65-byte r‖s‖v signature (low-s, v in {27, 28}) over the commitment."""
    signable = _signable(domain, "Commitment", COMMITMENT_TYPE, commitment.message())
    return bytes(Account.sign_message(signable, private_key).signature)


def recover_commitment(domain: Domain, commitment: Commitment, signature: bytes) -> str:
    signable = _signable(domain, "Commitment", COMMITMENT_TYPE, commitment.message())
    return Account.recover_message(signable, signature=bytes(signature))


def verify_commitment(domain: Domain, commitment: Commitment, signature: bytes) -> bool:
    """True iff the signature recovers to ``commitment.participant`` under this domain."""
    try:
        signer = recover_commitment(domain, commitment, signature)
    except Exception:  # malformed signature bytes: not a valid commitment
        return False
    return signer == to_checksum_address(commitment.participant)


def sign_node_binding(domain: Domain, binding: NodeBinding, private_key: Any) -> bytes:
    signable = _signable(domain, "NodeBinding", NODE_BINDING_TYPE, binding.message())
    return bytes(Account.sign_message(signable, private_key).signature)


def recover_node_binding(domain: Domain, binding: NodeBinding, signature: bytes) -> str:
    signable = _signable(domain, "NodeBinding", NODE_BINDING_TYPE, binding.message())
    return Account.recover_message(signable, signature=bytes(signature))


def verify_node_binding(
    domain: Domain, binding: NodeBinding, signature: bytes, now: int | None = None
) -> bool:
    """True iff signed by ``binding.participant`` under this domain and not expired at ``now``."""
    if now is not None and binding.expiry < now:
        return False
    try:
        signer = recover_node_binding(domain, binding, signature)
    except Exception:
        return False
    return signer == to_checksum_address(binding.participant)
