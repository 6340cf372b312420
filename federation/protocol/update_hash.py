"""Canonical hash of a model update: a sha256 Merkle root over a header leaf and fixed-size
chunks of the update's bytes.

A participant's signature commits to this root, so it commits to exact arrays; and one
chunk (or the header) can be proven against it with a path of ⌈log₂(chunks + 1)⌉ hashes,
which is what lets a contract check a "malformed update" claim itself (sha256 is an EVM
precompile). Defined in docs/protocol.md ("Update hash"):

* header = `DOMAIN_TAG ‖ u32le(CHUNK_SIZE) ‖ u32le(#arrays) ‖ per array in record order:
  u32le(len(name)) ‖ name ‖ u32le(len(dtype)) ‖ dtype.str ‖ u32le(ndim) ‖ u64le(dim)… ‖
  u64le(nbytes)` ‖ u64le(total bytes)`;
* payload = every array's raw C-order little-endian bytes, concatenated in record order,
  cut into CHUNK_SIZE-byte chunks (the last may be shorter);
* leaf 0 = sha256(0x00 ‖ header), leaf i = sha256(0x00 ‖ chunk i−1);
* node = sha256(0x01 ‖ left ‖ right), leaves padded to a power of two with zero subtrees
  (Z₀ = 32 zero bytes, Z_{l+1} = node(Z_l, Z_l)); a single leaf is its own root.

CHUNK_SIZE = 4 KiB trades calldata against hashing speed: a proof's chunk costs 16 gas per
byte (4 KiB ≈ 65k gas, inside the 150k budget of a malformed-update slash with its path
and checks), while a smaller chunk costs more per-call overhead to hash (one hashlib call
per 1 KiB chunk ≈ 5× a single sha256 of the whole update, per 4 KiB ≈ 2×). hashlib releases
the GIL on inputs above 2 KiB, so large updates hash their chunks on several threads and
the root costs about what one sha256 over the bytes does (`make bench-hash`).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

DOMAIN_TAG = b"fedstake/update/v2\x00"
CHUNK_SIZE = 4096
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
ZERO = bytes(32)
# Below this many payload bytes one thread hashes faster than a pool starts.
PARALLEL_BYTES = 8 << 20

Arrays = Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]


def _little_endian(array: np.ndarray) -> np.ndarray:
    """Return a C-contiguous array whose dtype is little-endian (or byte-order free)."""
    arr = np.asarray(array)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def _items(arrays: Arrays) -> list[tuple[str, np.ndarray]]:
    items = arrays.items() if isinstance(arrays, Mapping) else arrays
    return [(name, _little_endian(a)) for name, a in items]


def header_bytes(arrays: Arrays, chunk_size: int = CHUNK_SIZE) -> bytes:
    """The header leaf's preimage (without the leaf prefix): names, dtypes, shapes, sizes."""
    return _header(_items(arrays), chunk_size)


def _header(items: Sequence[tuple[str, np.ndarray]], chunk_size: int) -> bytes:
    out = [DOMAIN_TAG, struct.pack("<II", chunk_size, len(items))]
    total = 0
    for name, arr in items:
        name_b = name.encode("utf-8")
        dtype_b = arr.dtype.str.encode("ascii")
        out.append(struct.pack("<I", len(name_b)) + name_b)
        out.append(struct.pack("<I", len(dtype_b)) + dtype_b)
        out.append(struct.pack("<I", arr.ndim) + b"".join(struct.pack("<Q", d) for d in arr.shape))
        out.append(struct.pack("<Q", arr.nbytes))
        total += arr.nbytes
    out.append(struct.pack("<Q", total))
    return b"".join(out)


def _chunks(items: Sequence[tuple[str, np.ndarray]], size: int) -> list[bytes | memoryview]:
    """The payload cut into `size`-byte chunks, as views of the arrays where possible (a
    chunk that straddles two arrays is copied)."""
    chunks: list[bytes | memoryview] = []
    carry = b""
    for _, arr in items:
        view = memoryview(arr.reshape(-1).view(np.uint8))
        pos = 0
        if carry:
            take = bytes(view[: size - len(carry)])
            carry += take
            pos = len(take)
            if len(carry) < size:
                continue
            chunks.append(carry)
            carry = b""
        full = (len(view) - pos) // size
        chunks.extend(view[pos + j * size : pos + (j + 1) * size] for j in range(full))
        pos += full * size
        if pos < len(view):
            carry = bytes(view[pos:])
    if carry:
        chunks.append(carry)
    return chunks


def leaf_hash(data: bytes | memoryview) -> bytes:
    h = hashlib.sha256(LEAF_PREFIX)
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _zero_subtrees(depth: int) -> list[bytes]:
    z = [ZERO]
    for _ in range(depth):
        z.append(node_hash(z[-1], z[-1]))
    return z


def _leaf_hashes(chunks: Sequence[bytes | memoryview], threads: int) -> list[bytes]:
    if threads <= 1 or len(chunks) < 2 * threads:
        return [leaf_hash(c) for c in chunks]
    step = -(-len(chunks) // threads)
    parts = [chunks[i : i + step] for i in range(0, len(chunks), step)]
    with ThreadPoolExecutor(len(parts)) as pool:
        done = pool.map(lambda part: [leaf_hash(c) for c in part], parts)
    return [h for part in done for h in part]


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the tree from the leaves up (the right edge paired with zero
    subtrees, which is zero-padding to a power of two without hashing the padding)."""
    depth = max(0, (len(leaves) - 1).bit_length())
    zero = _zero_subtrees(depth)
    levels = [leaves]
    for level in range(depth):
        cur = levels[-1]
        if len(cur) % 2:
            cur = [*cur, zero[level]]
        levels.append([node_hash(cur[i], cur[i + 1]) for i in range(0, len(cur), 2)])
    return levels


def _threads(payload: int, threads: int | None) -> int:
    if threads is not None:
        return max(1, threads)
    return min(os.cpu_count() or 1, 8) if payload >= PARALLEL_BYTES else 1


def update_hash(arrays: Arrays, *, threads: int | None = None) -> bytes:
    """The Merkle root of named arrays in the given order; 32 bytes (the on-chain bytes32).
    `threads`: how many threads hash the chunks (default: the cores, for large updates)."""
    return merkle_root(arrays, CHUNK_SIZE, threads=threads)


def merkle_root(arrays: Arrays, chunk_size: int, *, threads: int | None = None) -> bytes:
    """The tree's root for any chunk size (the protocol's is CHUNK_SIZE; the benchmark
    compares others)."""
    items = _items(arrays)
    chunks = _chunks(items, chunk_size)
    payload = sum(a.nbytes for _, a in items)
    leaves = [
        leaf_hash(_header(items, chunk_size)),
        *_leaf_hashes(chunks, _threads(payload, threads)),
    ]
    return _levels(leaves)[-1][0]


@dataclass(frozen=True)
class ChunkProof:
    """Leaf `index` of an update's tree (0: the header, i ≥ 1: chunk i − 1) and the
    sibling hashes from that leaf up to the root."""

    index: int
    data: bytes  # the header or the chunk
    path: tuple[bytes, ...]

    def root(self) -> bytes:
        """The root this proof leads to (compare with the signed update hash)."""
        h, i = leaf_hash(self.data), self.index
        for sibling in self.path:
            h = node_hash(sibling, h) if i & 1 else node_hash(h, sibling)
            i >>= 1
        return h


def chunk_proof(arrays: Arrays, index: int) -> ChunkProof:
    """The proof of leaf `index` (0 = header, i = chunk i − 1) of `arrays`' update hash."""
    items = _items(arrays)
    chunks = _chunks(items, CHUNK_SIZE)
    header = _header(items, CHUNK_SIZE)
    if not 0 <= index <= len(chunks):
        raise IndexError(f"leaf {index} of an update with {len(chunks)} chunks (0 = header)")
    leaves = [leaf_hash(header), *_leaf_hashes(chunks, 1)]
    levels = _levels(leaves)
    zero = _zero_subtrees(len(levels))
    path, i = [], index
    for level, nodes in enumerate(levels[:-1]):
        j = i ^ 1
        path.append(nodes[j] if j < len(nodes) else zero[level])
        i >>= 1
    data = header if index == 0 else bytes(chunks[index - 1])
    return ChunkProof(index, data, tuple(path))


def verify_chunk(root: bytes, proof: ChunkProof) -> bool:
    """Whether `proof` leads to `root`."""
    return proof.root() == bytes(root)


def chunk_of_element(arrays: Arrays, name: str, flat_index: int) -> tuple[int, int]:
    """(leaf index, byte offset in that chunk) of element `flat_index` of array `name`:
    where a proof of a malformed value (e.g. a NaN) points."""
    offset = 0
    for n, arr in _items(arrays):
        if n == name:
            if not 0 <= flat_index < arr.size:
                raise IndexError(f"{name} has {arr.size} elements, not index {flat_index}")
            offset += flat_index * arr.itemsize
            return 1 + offset // CHUNK_SIZE, offset % CHUNK_SIZE
        offset += arr.nbytes
    raise KeyError(f"no array named {name!r}")
