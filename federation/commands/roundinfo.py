"""What the round, claim and status commands read: a round from the chain and, where it
can be found, from the coordinator's artifact store (manifest, results, strikes).

The store of a round is the directory its provenance record's weights URI points into
(the coordinator publishes ``round-N-manifest.json`` and ``round-N-results.json`` there),
or what ``--results`` / ``--store`` names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from federation.commands.common import CliError, hex32
from federation.ledger import Ledger
from federation.types import RoundInfo, RoundResults, RoundStatus

ZERO32 = b"\x00" * 32


def round_or_fail(ledger: Ledger, rid: int) -> RoundInfo:
    """The round, or 'no such round' naming how many exist."""
    if rid < 1:
        raise CliError(f"round ids start at 1, not {rid}: `fedstake round list` shows them")
    info = ledger.get_round(rid)
    if info.status == RoundStatus.NONE:
        count = ledger.round_count()
        have = f"rounds 1–{count} exist" if count else "no round has been opened yet"
        raise CliError(f"no such round {rid} on this deployment ({have}): `fedstake round list`")
    return info


# -- the artifact store -----------------------------------------------------------------------
def path_of_uri(uri: str) -> Path:
    return Path(url2pathname(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)


@dataclass
class StoreRef:
    """A round's artifact store directory (None when not found) and how it was found."""

    root: Path | None
    source: str
    note: str = ""


def provenance_of(ledger: Ledger, info: RoundInfo) -> Any:
    """The round's aggregate's provenance record (ModelVersion), or None."""
    if info.aggregate_hash == ZERO32:
        return None
    version = ledger.version_of_weights(info.aggregate_hash)
    return ledger.get_version(version) if version else None


def store_of(ledger: Ledger, info: RoundInfo, override: Path | None = None) -> StoreRef:
    if override is not None:
        root = override if override.is_dir() else override.parent
        return StoreRef(root if root.is_dir() else None, f"{override}", "")
    version = provenance_of(ledger, info)
    if version is None:
        return StoreRef(None, "provenance", "the round has no provenance record on-chain")
    path = path_of_uri(version.weights_uri)
    root = path.parent if path.suffix in (".npz", ".json") else path
    if not root.is_dir():
        return StoreRef(
            None,
            version.weights_uri,
            f"its artifact store {root} is not on this machine",
        )
    return StoreRef(root, version.weights_uri)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def manifest_of(store: StoreRef, rid: int) -> dict[str, Any] | None:
    if store.root is None:
        return None
    path = store.root / f"round-{rid}-manifest.json"
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("round_id") == rid else None


def load_results(path: Path, rid: int, info: RoundInfo) -> RoundResults:
    """A results file for round ``rid`` of this deployment, or a one-line error."""
    if path.is_dir():
        path = path / f"round-{rid}-results.json"
    use = f"`fedstake claim {rid} --results FILE`"
    if not path.exists():
        raise CliError(
            f"no results file at {path}: get round-{rid}-results.json from the coordinator's "
            f"artifact store and pass it with {use}"
        )
    try:
        results = RoundResults.from_dict(read_json(path))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(
            f"{path} is not a valid results file ({why}): get round-{rid}-results.json "
            f"from the coordinator's artifact store and pass it with {use}"
        ) from None
    if results.round_id != rid:
        raise CliError(
            f"{path} holds round {results.round_id}'s results, not round {rid}'s: pass "
            f"round-{rid}-results.json with {use}"
        )
    if results.root != info.results_root:
        raise CliError(
            f"{path} is not round {rid}'s results on this deployment (its root "
            f"{hex32(results.root)[:12]}… is not the finalized {hex32(info.results_root)[:12]}…): "
            f"it is from another deployment or was altered; `fedstake claim {rid}` finds the "
            "published file through the round's provenance record"
        )
    return results


def results_round(path: Path) -> int | None:
    """The round id a results file declares (None when unreadable: load_results says why)."""
    try:
        data = read_json(path)
        return int(data["round_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# -- claims ----------------------------------------------------------------------------------
@dataclass
class Claimable:
    """Where one round stands for one participant's reward."""

    round_id: int
    state: str  # claimable claimed zero absent pending voided no-results open expired cancelled
    reward: int = 0
    until: int = 0  # pending: end of the challenge window
    results: RoundResults | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"round": self.round_id, "state": self.state}
        out["reward"] = str(self.reward)
        if self.until:
            out["settles_after"] = self.until
        if self.note:
            out["note"] = self.note
        return out


def finalized_round_ids(ledger: Ledger) -> list[int]:
    """Rounds that reached finalize (from the RoundFinalized events), in order."""
    return sorted({e.round_id for e in ledger.round_events() if e.kind == "finalized"})


def survey(
    ledger: Ledger,
    who: str,
    rounds: list[int] | None,
    results: Path | None,
    strict: bool,
) -> list[Claimable]:
    """Each round's reward for ``who``; ``strict`` turns a bad explicit results file into
    an error (claim) instead of a note (status)."""
    ids = rounds if rounds is not None else finalized_round_ids(ledger)
    out: list[Claimable] = []
    for rid in ids:
        info = round_or_fail(ledger, rid) if rounds is not None else ledger.get_round(rid)
        out.append(_one(ledger, who, info, results, strict))
    return out


def _one(
    ledger: Ledger, who: str, info: RoundInfo, results: Path | None, strict: bool
) -> Claimable:
    rid = info.round_id
    if info.status in (RoundStatus.OPEN, RoundStatus.EXPIRED, RoundStatus.CANCELLED):
        return Claimable(rid, info.status.name.lower())
    if info.result_voided:
        return Claimable(rid, "voided", note="an upheld dispute voided its result")
    try:
        if results is not None:
            res = load_results(results, rid, info)
        else:
            store = store_of(ledger, info)
            if store.root is None:
                return Claimable(rid, "no-results", note=store.note)
            res = load_results(store.root, rid, info)
    except CliError as exc:
        if strict:
            raise
        return Claimable(rid, "no-results", note=str(exc))
    try:
        entry = res.entry(who)
    except KeyError:
        return Claimable(rid, "absent", results=res)
    if entry.reward == 0:
        return Claimable(rid, "zero", results=res)
    if info.status == RoundStatus.FINALIZED:
        return Claimable(rid, "pending", entry.reward, info.challenge_deadline, res)
    if ledger.is_claimed(rid, who):
        return Claimable(rid, "claimed", entry.reward, results=res)
    return Claimable(rid, "claimable", entry.reward, results=res)


# -- strikes --------------------------------------------------------------------------------
@dataclass
class Strikes:
    """A participant's current strikes per reason, from the coordinator's policy state."""

    by_reason: dict[int, list[int]] = field(default_factory=dict)
    needed: dict[int, int] = field(default_factory=dict)
    source: str = ""


def strikes_of(ledger: Ledger, who: str, store: StoreRef, last_round: int) -> Strikes | None:
    """From the coordinator's journal (state after its latest round) in the store, else
    from the latest manifest's state before that round; None when neither is readable."""
    if store.root is None:
        return None
    state, source = None, ""
    journal = store.root / "journal.jsonl"
    if journal.exists():
        latest = None
        for line in journal.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("step") == "state" and rec.get("settlement"):
                latest = rec["settlement"]
        if latest:
            try:
                state = read_json(store.root / f"{latest}.json")
                source = "the coordinator's journal"
            except (OSError, ValueError):
                state = None
    manifest = manifest_of(store, last_round)
    if state is None and manifest is not None and manifest.get("settlement_before"):
        state = manifest["settlement_before"]
        source = f"the state before round {last_round}"
    if not isinstance(state, dict):
        return None
    policy = manifest.get("policy", {}) if manifest else {}
    needed = {
        3: int(policy.get("byzantine_strikes", 3)),
        4: int(policy.get("sybil_strikes", 2)),
        5: int(policy.get("free_rider_strikes", 2)),
    }
    raw = state.get("policy", {}).get("strikes", {})
    mine = next((v for k, v in raw.items() if k.lower() == who.lower()), {})
    return Strikes({int(r): [int(x) for x in v] for r, v in mine.items()}, needed, source)


# -- disputes --------------------------------------------------------------------------------
def dispute_ids(ledger: Ledger, round_id: int | None = None) -> list[int]:
    return ledger.dispute_ids(round_id)
