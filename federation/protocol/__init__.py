"""Cross-language protocol facts (docs/protocol.md), one definition each."""

from federation.protocol.eip712 import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    Commitment,
    Domain,
    NodeBinding,
    recover_commitment,
    recover_node_binding,
    sign_commitment,
    sign_node_binding,
    verify_commitment,
    verify_node_binding,
)
from federation.protocol.merkle import (
    MerkleTree,
    participant_leaf,
    result_leaf,
    verify_proof,
)
from federation.protocol.slash_reasons import SlashReason
from federation.protocol.update_hash import ChunkProof, chunk_proof, update_hash, verify_chunk

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "ChunkProof",
    "Commitment",
    "Domain",
    "MerkleTree",
    "NodeBinding",
    "SlashReason",
    "chunk_proof",
    "participant_leaf",
    "recover_commitment",
    "recover_node_binding",
    "result_leaf",
    "sign_commitment",
    "sign_node_binding",
    "update_hash",
    "verify_chunk",
    "verify_commitment",
    "verify_node_binding",
    "verify_proof",
]
