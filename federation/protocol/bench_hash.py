"""How long the chunked update root takes against one sha256 over the same bytes.

    python -m federation.protocol.bench_hash --params 1e6 1e8     (make bench-hash)

For each size: the plain sha256 of the payload (the floor: what hashing the bytes costs),
then the Merkle root at several chunk sizes, single-threaded and with the default thread
count, as the median of `--repeat` runs. The protocol's chunk size is
`federation.protocol.update_hash.CHUNK_SIZE`; its target is ≤ 2× the plain sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from federation.protocol.update_hash import CHUNK_SIZE, _threads, merkle_root


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(params: int, chunk_sizes: list[int], repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    arrays = {"w": rng.standard_normal(params, dtype=np.float32)}
    data = memoryview(arrays["w"].view(np.uint8))
    sha = _median_seconds(lambda: hashlib.sha256(data).digest(), repeat)
    rows = []
    for size in chunk_sizes:
        one = _median_seconds(lambda s=size: merkle_root(arrays, s, threads=1), repeat)
        many = _median_seconds(lambda s=size: merkle_root(arrays, s), repeat)
        rows.append(
            {
                "chunk": size,
                "single_s": one,
                "threads": _threads(arrays["w"].nbytes, None),
                "default_s": many,
                "single_x": one / sha,
                "default_x": many / sha,
            }
        )
    return {"params": params, "bytes": arrays["w"].nbytes, "sha256_s": sha, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=float, nargs="+", default=[1e6, 1e8])
    ap.add_argument("--chunks", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    results = [bench(int(p), args.chunks, args.repeat) for p in args.params]
    print(f"cores: {os.cpu_count()}; protocol chunk: {CHUNK_SIZE} bytes; median of {args.repeat}")
    print("| float32 params | sha256 ms | chunk | root ms (1 thread) | × | root ms (threads) | × |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for row in r["rows"]:
            mark = " (protocol)" if row["chunk"] == CHUNK_SIZE else ""
            print(
                f"| {r['params']:.0e} | {1e3 * r['sha256_s']:.1f} | {row['chunk']}{mark} | "
                f"{1e3 * row['single_s']:.1f} | {row['single_x']:.2f} | "
                f"{1e3 * row['default_s']:.1f} ({row['threads']}) | {row['default_x']:.2f} |"
            )
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
