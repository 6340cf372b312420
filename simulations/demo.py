"""`make demo`: staked federated rounds on an embedded in-process chain, start to finish.

Ten staked participants train a digit classifier (scikit-learn's bundled digits, split
non-IID with a flwr-datasets Dirichlet partitioner). Four misbehave: one flips its update's
sign, one sends the global model back (free rider), one sends NaNs, one signs a different
update than it sends. Each round is opened on-chain, the signed updates are validated,
robustly aggregated and scored, rewards and slashes are finalized with the participants'
own signed commitments as evidence, the challenge window passes, the round settles and
honest participants claim their rewards by Merkle proof. Token accounting is checked to
the wei at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from federation.aggregation import RuleAggregator
from federation.artifact_store import LocalArtifactStore
from federation.engine import RoundEngine
from federation.journal import Journal
from federation.keys import dev_signers
from federation.ledger import Ledger
from simulations.accounting import check_accounting
from simulations.data import client_data, holdout_set
from simulations.softmax_model import accuracy, init_model, train_sgd
from simulations.staked_round import Behaviour, SimParticipant, apply_behaviour, run_round

TOKEN = 10**18
BEHAVIOURS = [Behaviour.HONEST] * 6 + [
    Behaviour.SIGN_FLIP,
    Behaviour.FREE_RIDER,
    Behaviour.NON_FINITE,
    Behaviour.FORGED_HASH,
]


def _fmt(wei: int) -> str:
    return f"{wei / TOKEN:,.4f}"


def plain_fedavg_accuracy(
    people: list[SimParticipant],
    seeds: list[int],
    model: dict[str, np.ndarray],
    rounds: int,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    drop_non_finite: bool,
) -> float:
    """Baseline: the same training and attacks (same seeds), averaged with no defence."""
    rngs = [np.random.default_rng(s) for s in seeds]
    for _ in range(rounds):
        sent = []
        for p, r in zip(people, rngs, strict=True):
            local, _ = p.train(model, r)
            sent.append(apply_behaviour(p.behaviour, model, local, r))
        if drop_non_finite:
            sent = [a for a in sent if all(np.all(np.isfinite(v)) for v in a.values())]
        with np.errstate(invalid="ignore"):
            model = {
                k: np.mean([a[k] for a in sent], axis=0).astype(v.dtype) for k, v in model.items()
            }
    with np.errstate(invalid="ignore"):
        return accuracy(model, x_test, y_test)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chain", default="inprocess://", help="inprocess://, anvil:// or an RPC URL")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--aggregator", default="multi_krum")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--store", default=None, help="artifact store dir (default: a temp dir)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    n = len(BEHAVIOURS)
    parts = [client_data(i, n, alpha=1.0, seed=args.seed) for i in range(n)]
    x_test, y_test = holdout_set(args.seed)

    print(
        f"fedstake demo — chain {args.chain}, {len(BEHAVIOURS)} participants, {args.rounds} rounds"
    )
    admin = Ledger.deploy(args.chain)
    chain = admin.chain
    signers = dev_signers(1 + len(BEHAVIOURS))[1:]
    stake = 100 * TOKEN
    people: list[SimParticipant] = []
    seeds: list[int] = []
    for signer, behaviour, (x, y) in zip(signers, BEHAVIOURS, parts, strict=True):
        led = admin.as_signer(signer)
        admin.fund_eth(led.address, 10 * TOKEN)
        admin.transfer_tokens(led.address, stake)
        led.stake(stake)

        def train(g, r, x=x, y=y):  # type: ignore[no-untyped-def]
            return train_sgd(g, x, y, r), len(x)

        seed = int(rng.integers(2**32))
        seeds.append(seed)
        people.append(SimParticipant(led, behaviour, train, np.random.default_rng(seed)))
    admin.post_bond(500 * TOKEN)
    admin.fund_reward_pool(1_000 * TOKEN)
    print(
        f"deployed RoundManager {admin.deployment.address('RoundManager')}; "
        f"{len(people)} participants staked {_fmt(stake)} FED each\n"
    )

    store_dir = args.store or tempfile.mkdtemp(prefix="fedstake-store-")
    coord = RoundEngine(
        admin,
        LocalArtifactStore(Path(store_dir)),
        RuleAggregator(args.aggregator, 2),
        journal=Journal(Path(store_dir) / "journal.jsonl"),
        hyperparams={"aggregator": args.aggregator, "lr": 0.5, "epochs": 2, "seed": args.seed},
    )
    model = init_model(x_test.shape[1], 10)
    window = admin.round_config().challenge_window
    budget = 30 * TOKEN
    role = {p.address: p.behaviour.value for p in people}
    final_acc = accuracy(model, x_test, y_test)
    for _ in range(args.rounds):
        out = run_round(coord, model, people, budget)
        model = out.aggregate_arrays
        final_acc = accuracy(model, x_test, y_test)
        print(
            f"round {out.round_id}: accuracy {accuracy(model, x_test, y_test):.3f}  "
            f"open {out.gas['open']:,} gas, finalize {out.gas['finalize']:,} gas "
            f"({len(out.slashes)} slashes), provenance version {out.version_id}"
        )
        for e in out.exclusions:
            why = e.reason.name if e.reason else "not slashable"
            print(f"  excluded {role[e.participant]:<12} {why:<12} {e.detail}")
        for p in out.scores.participants if out.scores else ():
            flags = ",".join(r.name for r in p.reasons) or "-"
            print(f"  scored   {role[p.participant]:<12} score {p.score:.3f}  flags {flags}")
        for s in out.decision.slashes:
            print(
                f"  slash    {role[s.participant]:<12} {s.reason.name:<12} "
                f"{s.bps / 100:.1f}% = {_fmt(s.amount)} FED (strike {s.strikes})"
            )
        chain.advance_time(window + 1)
        admin.settle_round(out.round_id)
        claimed = 0
        for p in people:
            entry = out.results.entry(p.address)
            if entry.reward > 0:
                claimed += p.ledger.claim(out.round_id, out.results).value or 0
        print(f"  settled; {_fmt(claimed)} FED claimed of a {_fmt(budget)} FED budget\n")

    print("final stakes and balances:")
    for p in people:
        st = p.ledger.stake_of()
        print(
            f"  {role[p.address]:<12} stake {_fmt(st.slashable):>10}  wallet "
            f"{_fmt(p.ledger.token_balance()):>10}"
        )
    acct = check_accounting(admin)
    print(
        f"token accounting: contracts hold {acct.held} wei, owe {acct.owed} wei "
        f"→ {'balanced to the wei' if acct.balanced else 'IMBALANCED'}"
    )
    print("the same participants and rounds without fedstake (plain FedAvg of every reply):")
    for drop in (False, True):
        acc = plain_fedavg_accuracy(
            people,
            seeds,
            init_model(x_test.shape[1], 10),
            args.rounds,
            x_test,
            y_test,
            drop_non_finite=drop,
        )
        what = "finite replies only" if drop else "every reply, NaN included"
        print(f"  accuracy {acc:.3f} ({what}) vs {final_acc:.3f} staked + {args.aggregator}")
    lineage = admin.lineage(coord.parent_version)
    print(
        f"provenance lineage: {' ← '.join(f'v{v.version_id}(round {v.round_id})' for v in lineage)}"
    )
    print(f"artifact store: {store_dir}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0 if acct.balanced else 1


if __name__ == "__main__":
    sys.exit(main())
