#!/usr/bin/env bash
# Proves that `make test-contracts` fails when a forge test fails, and passes when none does.
#
# It runs the real Makefile's test-contracts recipe (`make -C <repo> CONTRACTS=<copy>`) against a
# throw-away copy of contracts/ with the same foundry.toml and tools/, node_modules symlinked
# (read only), its own out/ and cache/, and one tiny test instead of the suite, so it builds in
# seconds. The test fails only when FEDSTAKE_FORGE_EXIT_CHECK_FAIL=true, so both runs execute
# the same compiled test and the only difference between them is its outcome. The deliberate
# failure lives here, never under contracts/test/. Run by `make check-forge-exit` (`make test`).
set -euo pipefail

contracts=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$contracts/.." && pwd)
make=${MAKE:-make}  # the make on PATH unless MAKE is set
name=check-forge-exit

now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "$EPOCHREALTIME"; else date +%s; fi; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

if [ ! -e "$contracts/node_modules/.stamp-installed" ]; then
  echo "$name: contracts/node_modules is not installed: run \`make setup-contracts\`" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fedstake-forge-exit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/contracts
mkdir -p "$copy/src" "$copy/test"
# -p keeps package*.json older than node_modules/.stamp-installed; -o below makes sure anyway
# that the copy never runs npm ci (its node_modules is the real one).
cp -p "$contracts/foundry.toml" "$contracts/package.json" "$contracts/package-lock.json" "$copy/"
cp -pR "$contracts/tools" "$copy/tools"
ln -s "$contracts/node_modules" "$copy/node_modules"
cat >"$copy/test/ExitStatus.t.sol" <<'SOL'
// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

interface Env {
    function envOr(string calldata name, bool defaultValue) external view returns (bool);
}

/// Fails only when FEDSTAKE_FORGE_EXIT_CHECK_FAIL=true (contracts/tools/check-exit-status.sh).
contract ExitStatusTest {
    Env private constant VM = Env(address(uint160(uint256(keccak256("hevm cheat code")))));

    function test_exitStatus() public view {
        require(!VM.envOr("FEDSTAKE_FORGE_EXIT_CHECK_FAIL", false), "deliberate failure");
    }
}
SOL

# The recipe `make test` runs, pointed at the copy; prints its exit status, logs under $tmp.
# Called in $(...), a subshell: the caller's make flags (-k, -i, -n ...) are dropped there so
# that the result is the Makefile's own.
run_recipe() {
  local fail=$1 log=$2 rc=0
  unset MAKEFLAGS MFLAGS MAKELEVEL
  FEDSTAKE_FORGE_EXIT_CHECK_FAIL=$fail "$make" --no-print-directory -C "$repo" \
    CONTRACTS="$copy" -o "$copy/node_modules/.stamp-installed" test-contracts >"$log" 2>&1 || rc=$?
  echo "$rc"
}

broken() {
  echo "$name: FAILED: $1; output of make test-contracts:" >&2
  sed 's/^/    /' "$2" >&2
  exit 1
}

start=$(now)
rc=$(run_recipe false "$tmp/pass.log")
[ "$rc" -eq 0 ] || broken "a passing test made it exit $rc (the check itself is broken)" "$tmp/pass.log"
echo "$name: passing test -> make test-contracts exit 0 ($(since "$start"))"

start=$(now)
rc=$(run_recipe true "$tmp/fail.log")
[ "$rc" -ne 0 ] || broken "a failing test made it exit 0: forge's exit status is lost" "$tmp/fail.log"
echo "$name: failing test -> make test-contracts exit $rc ($(since "$start"))"

# For the record: what the npm wrapper makes of the same failing test.
wrapper=0
(cd "$copy" && FEDSTAKE_FORGE_EXIT_CHECK_FAIL=true node_modules/.bin/forge test) \
  >"$tmp/wrapper.log" 2>&1 || wrapper=$?
echo "$name: (node_modules/.bin/forge, the npm wrapper, on the failing test: exit $wrapper)"
echo "$name: ok"
