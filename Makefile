# fedstake — `make demo` and `make test` are the README's two commands; both set up first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
# Slither lives in its own venv: it pins web3<8, which must not decide the runtime's web3.
SLITHER_VENV := .venv-slither
SLITHER_VERSION := 0.11.6
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Overridable so check-forge-exit can run this Makefile's recipes against a throw-away copy.
CONTRACTS ?= contracts
# forge/anvil/cast resolve to contracts/tools/bin, which execs the platform binary: the npm wrapper
# in node_modules/.bin exits 0 even when the tool fails (contracts/README.md), so it must come later.
FOUNDRY_BIN := $(abspath $(CONTRACTS)/tools/bin)
NODE_BIN := $(abspath $(CONTRACTS)/node_modules/.bin)
export PATH := $(CURDIR)/$(VENV)/bin:$(FOUNDRY_BIN):$(NODE_BIN):$(PATH)

.PHONY: help setup setup-python setup-contracts setup-slither demo test test-contracts test-python \
        check-forge-exit slither artifacts check-artifacts lint gas bench-aggregators \
        bench-aggregators-small bench-ledger \
        bench-overhead bench-engine bench-hash lab-sweep lab-report scoring-sweep scoring-lab clean

help:
	@echo "make demo   — set up and run a staked Flower federation (flwr run) on an embedded chain"
	@echo "make test   — set up and run every check (forge, slither, artifacts, ruff, pytest)"

setup: setup-python setup-contracts setup-slither

# Python: torch's CPU wheel first (an unpinned torch resolves to a multi-GB CUDA build).
setup-python: $(VENV)/.stamp-installed
$(VENV)/.stamp-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $@

setup-slither: $(SLITHER_VENV)/.stamp-installed
$(SLITHER_VENV)/.stamp-installed: Makefile
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install -q 'slither-analyzer==$(SLITHER_VERSION)'
	touch $@

# Contracts: the pinned npm toolchain (solc-js, forge, anvil, cast, OpenZeppelin).
setup-contracts: $(CONTRACTS)/node_modules/.stamp-installed
$(CONTRACTS)/node_modules/.stamp-installed: $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo needs only Python: contract artifacts ship inside federation/artifacts.
demo: setup-python
	$(PY) -m simulations.demo

test: setup check-artifacts check-forge-exit test-contracts slither lint test-python

test-contracts: setup-contracts
	cd $(CONTRACTS) && forge test

# Proves test-contracts fails when a forge test fails (and passes when none does), on a throw-away
# copy of contracts/ holding one tiny test file; the deliberate failure never enters the real suite.
check-forge-exit: setup-contracts
	$(CONTRACTS)/tools/check-exit-status.sh

slither: setup-contracts setup-slither
	cd $(CONTRACTS) && $(CURDIR)/$(SLITHER_VENV)/bin/slither . --config-file slither.config.json

artifacts: setup
	$(PY) -m federation.artifacts export

check-artifacts: setup
	$(PY) -m federation.artifacts check

lint: setup-python
	$(VENV)/bin/ruff check federation strategies simulations tests
	$(VENV)/bin/ruff format --check federation strategies simulations tests

test-python: setup
	$(PY) -m pytest -q

gas: setup-contracts
	cd $(CONTRACTS) && forge snapshot --match-contract GasTest

bench-aggregators: setup-python
	$(PY) -m strategies.bench --n 50 --d 1000000 --repeat 9 --paired 7

# Every aggregator at the lab's sizes (n = 10, 12, 20, 50; d = 2e3, 2e4, 1e5; float32 and
# float64) against Flower 1.42, a ByzFL-style torch NNM and plain numpy, paired and
# interleaved: the speed-up table of strategies/BENCHMARKS.md ("Lab sizes").
bench-aggregators-small: setup-python
	$(PY) -m strategies.bench --small --rounds 15

bench-ledger: setup
	$(PY) -m federation.bench

# Wall-time overhead of the staked federation (anvil) over the inner strategy alone, through
# `flwr run` (20 SuperNodes, 10 rounds, median of 2): prints the README's Markdown tables.
bench-overhead: setup-python setup-contracts
	$(PY) -m simulations.bench_overhead --engine flwr --clients 20 --rounds 10 --repeat 2 \
		--out .fedstake/bench/overhead-flwr.json

# The lab's in-process runner (InProcessGrid) against `flwr run` on the 20-client digits
# scenario (staked, embedded chain, 20 % sign-flippers, multi-krum), 2 and 10 rounds each,
# median of 2: start-up, per-round cost, speed-up, and whether the per-round decisions are
# identical.
bench-engine: setup-python
	$(PY) -m simulations.bench_engine --clients 20 --rounds 10 --short 2 --repeat 2 \
		--out-dir .fedstake/bench/engine

# Speed of the chunked update hash (docs/protocol.md) against one sha256 over the same bytes.
bench-hash: setup-python
	$(PY) -m federation.protocol.bench_hash --params 1e6 1e8 --chunks 1024 4096 8192 --repeat 3

# The poisoning lab's reference sweep (simulations/SCENARIOS.md): attack × aggregator ×
# heterogeneity over simulations/scenarios/lab-sweep.toml, resumable (a finished cell is not
# re-run), then the committed report in simulations/report/. LAB_WORKERS cells run at once.
LAB_OUT ?= .fedstake/lab/sweep
LAB_WORKERS ?= 2
LAB_ATTACKS ?= none,label-flip,sign-flip,noise,backdoor,scaling,alie,ipm,min-max,min-sum,fang,sybil
LAB_STRATEGIES ?= fedavg,median,trimmed-mean,krum,multi-krum,centered-clipping
LAB_ALPHAS ?= 0,0.3
lab-sweep: setup-python setup-contracts
	$(VENV)/bin/fedstake sweep simulations/scenarios/lab-sweep.toml --out $(LAB_OUT) \
		--workers $(LAB_WORKERS) --axis attack=$(LAB_ATTACKS) --axis strategy=$(LAB_STRATEGIES) \
		--axis dirichlet-alpha=$(LAB_ALPHAS)
	$(MAKE) --no-print-directory lab-report

# Re-render the committed report from the sweep's cells (no simulation).
lab-report: setup-python
	$(VENV)/bin/fedstake report $(LAB_OUT)
	mkdir -p simulations/report
	cp $(LAB_OUT)/REPORT.md $(LAB_OUT)/summary.csv $(LAB_OUT)/targets.csv $(LAB_OUT)/*.png \
		simulations/report/

# Issue #12: the scorers side by side (legacy, server reference, peer) on one real training
# trajectory per cell: attack × honest client momentum (0, 0.9) × split (IID, Dirichlet 0.3),
# 25 clients, 30 rounds (simulations/scoring_sweep.py). Resumable (a finished cell is not
# re-run); writes OUT/SWEEP.md and OUT/summary.csv. Not part of `make test`. Extra flags
# (--attacks, --rounds, --scorers, …) in SCORING_ARGS.
scoring-sweep: OUT ?= .fedstake/lab/scoring-sweep
scoring-sweep: WORKERS ?= 2
scoring-sweep: setup-python
	$(PY) -m simulations.scoring_sweep --out $(OUT) --workers $(WORKERS) $(SCORING_ARGS)

# The evidence scorer through the full stack (Flower App, anvil, settle, claim, verify):
# attack × heterogeneity over simulations/scenarios/scoring-lab.toml (server validation set).
SCORING_LAB_OUT ?= .fedstake/lab/scoring-lab
SCORING_LAB_ATTACKS ?= none,sign-flip,noise,label-flip,scaling,lazy,alie,ipm,min-max,min-sum,fang-krum,sybil,mimic
scoring-lab: setup-python setup-contracts
	$(VENV)/bin/fedstake sweep simulations/scenarios/scoring-lab.toml --out $(SCORING_LAB_OUT) \
		--workers $(LAB_WORKERS) --axis attack=$(SCORING_LAB_ATTACKS) --axis dirichlet-alpha=0,0.3
	$(VENV)/bin/fedstake report $(SCORING_LAB_OUT)

clean:
	rm -rf $(VENV) contracts/node_modules contracts/out contracts/cache
