"""Compiled contract artifacts (ABI + bytecode) shipped as package data.

``python -m federation.artifacts export`` rebuilds ``contracts/`` with forge and writes
``federation/artifacts/<Name>.json`` plus ``manifest.json``; ``check`` rebuilds and exits 1
naming every stale artifact. ``load_artifact(name)`` reads the shipped files with
``importlib.resources``, so a pip-only user can deploy without Node.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from federation.foundry import SETUP_HINT, find_tool

#: Bumped when a contract's external interface changes incompatibly.
ABI_VERSION = "2.0.0"

#: Deployable contracts: (contract name, source file under contracts/src or its out/ folder).
#: TimelockController is OpenZeppelin's (compiled through contracts/src/Timelock.sol): the
#: admin of the upgradeable contracts. SumTreeHarness (contracts/test/mocks) is test-only: it
#: exposes the SumTree library so tests/test_sum_tree.py runs the on-chain code from a clean
#: clone without forge.
CONTRACTS: tuple[tuple[str, str], ...] = (
    ("StakeManager", "StakeManager.sol"),
    ("RoundManager", "RoundManager.sol"),
    ("ProvenanceRegistry", "ProvenanceRegistry.sol"),
    ("FedToken", "FedToken.sol"),
    ("ERC1967Proxy", "ERC1967Proxy.sol"),
    ("FaultVerifier", "FaultVerifier.sol"),
    ("TimelockController", "TimelockController.sol"),
    ("SumTreeHarness", "SumTreeHarness.sol"),
)

PACKAGE = "federation"  # files live in federation/artifacts/ (package data)
REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
FIX_COMMAND = "make artifacts"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI, creation and runtime bytecode (0x-hex), source hash."""

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_hash: str

    def to_json(self) -> dict[str, Any]:
        """Serialise with the on-disk key names."""
        return {
            "contractName": self.contract_name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "sourceHash": self.source_hash,
        }

    @classmethod
    def from_forge_output(cls, name: str, data: dict[str, Any]) -> Artifact:
        """Read forge's ``out/<Source>.sol/<Name>.json``."""
        return cls(
            contract_name=name,
            abi=data["abi"],
            bytecode=data["bytecode"]["object"],
            deployed_bytecode=data["deployedBytecode"]["object"],
            source_hash=_source_hash(data["metadata"]),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        """Parse the on-disk form."""
        return cls(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            source_hash=data["sourceHash"],
        )


def load_artifact(name: str) -> Artifact:
    """Load the shipped artifact of contract ``name`` (e.g. ``"RoundManager"``)."""
    path = resources.files(PACKAGE).joinpath("artifacts", f"{name}.json")
    if not path.is_file():
        raise FileNotFoundError(f"no shipped artifact {name!r}; run `{FIX_COMMAND}`")
    return Artifact.from_json(json.loads(path.read_text(encoding="utf-8")))


def load_manifest() -> dict[str, Any]:
    """Load the shipped ``manifest.json``."""
    manifest = resources.files(PACKAGE).joinpath("artifacts", "manifest.json")
    return json.loads(manifest.read_text("utf-8"))


def _forge() -> str:
    """forge itself, not the npm wrapper that exits 0 on failure (federation.foundry)."""
    found = find_tool("forge")
    if found is None:
        raise SystemExit(f"forge not found: {SETUP_HINT}")
    return found


def build() -> None:
    """Run ``forge build`` (sources only) in contracts/; a failed build raises SystemExit."""
    cmd = [_forge(), "build", "--skip", "test", "--skip", "script"]
    proc = subprocess.run(cmd, cwd=CONTRACTS_DIR, check=False, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"`forge build` in contracts/ failed (exit {proc.returncode})")


def _source_hash(metadata: dict[str, Any]) -> str:
    """sha256 over the sorted (path, keccak256) pairs of every source in the compilation."""
    pairs = sorted((path, src["keccak256"]) for path, src in metadata["sources"].items())
    return "0x" + hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def compile_artifacts() -> tuple[dict[str, Artifact], str]:
    """Build and read the forge output; returns the artifacts and the solc version."""
    build()
    out: dict[str, Artifact] = {}
    solc = ""
    for name, source in CONTRACTS:
        data = json.loads((CONTRACTS_DIR / "out" / source / f"{name}.json").read_text("utf-8"))
        solc = data["metadata"]["compiler"]["version"]
        out[name] = Artifact.from_forge_output(name, data)
    return out, solc


def render(artifacts: dict[str, Artifact], solc: str) -> dict[str, str]:
    """File name → exact file text for every artifact and the manifest."""
    files = {
        f"{name}.json": json.dumps(a.to_json(), indent=2) + "\n" for name, a in artifacts.items()
    }
    manifest = {
        "abiVersion": ABI_VERSION,
        "solcVersion": solc,
        "contracts": [
            {"name": name, "file": f"{name}.json", "sourceHash": a.source_hash}
            for name, a in artifacts.items()
        ],
    }
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    return files


def export() -> list[str]:
    """Rebuild and write all artifact files; returns the names written."""
    files = render(*compile_artifacts())
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (ARTIFACTS_DIR / fname).write_text(text, encoding="utf-8")
    return sorted(files)


def stale() -> list[str]:
    """Rebuild and return the names of committed artifact files that differ (or are missing)."""
    files = render(*compile_artifacts())
    bad = []
    for fname, text in sorted(files.items()):
        path = ARTIFACTS_DIR / fname
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            bad.append(fname)
    return bad


def main(argv: list[str] | None = None) -> int:
    """CLI: ``export`` or ``check``."""
    parser = argparse.ArgumentParser(prog="python -m federation.artifacts", description=__doc__)
    parser.add_argument("command", choices=["export", "check"])
    args = parser.parse_args(argv)
    if args.command == "export":
        for fname in export():
            print(f"wrote federation/artifacts/{fname}")
        return 0
    bad = stale()
    if bad:
        print(
            "stale contract artifacts: "
            + ", ".join(f"federation/artifacts/{b}" for b in bad)
            + f"\nthe compiled contracts differ from the committed files; run `{FIX_COMMAND}`"
            " and commit federation/artifacts/",
            file=sys.stderr,
        )
        return 1
    print(f"contract artifacts up to date ({len(CONTRACTS)} contracts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
