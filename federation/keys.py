"""Signing keys: loaded from env or keystore, never printed, logged or repr'd.

``Signer`` holds an eth-account ``LocalAccount`` privately; its ``repr``/``str`` show only
the address, and it is not picklable, so a key cannot leak into logs or tracebacks by
accident.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from federation.errors import KeyLoadError

ENV_PRIVATE_KEY = "FEDSTAKE_PRIVATE_KEY"
ENV_KEYSTORE = "FEDSTAKE_KEYSTORE"
ENV_KEYSTORE_PASSWORD = "FEDSTAKE_KEYSTORE_PASSWORD"

Account.enable_unaudited_hdwallet_features()

#: anvil's and Hardhat's well-known development mnemonic (public; local chains only).
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class Signer:
    """An address plus the ability to sign; the key itself is never exposed as text."""

    __slots__ = ("__account",)

    def __init__(self, account: LocalAccount) -> None:
        self.__account = account

    @property
    def address(self) -> str:
        return self.__account.address

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self.__account.sign_transaction(tx).raw_transaction)

    def sign_message(self, signable: Any) -> bytes:
        return bytes(self.__account.sign_message(signable).signature)

    @property
    def key(self) -> Any:
        """The raw key object, for eth-account signing helpers. Never format it."""
        return self.__account.key

    def __repr__(self) -> str:
        return f"Signer({self.address}, key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Signer cannot be pickled (it holds a private key)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signer) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)


def from_private_key(key: str | bytes) -> Signer:
    try:
        return Signer(Account.from_key(key))
    except Exception:
        # never echo the offending value
        raise KeyLoadError("the private key is malformed (expected 32 bytes of hex)") from None


def generate() -> Signer:
    """A fresh random key (tests, simulations, throwaway participants)."""
    return Signer(Account.create())


def dev_signers(count: int = 10) -> list[Signer]:
    """The local-chain development accounts (same on inprocess:// and anvil://)."""
    return [
        Signer(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}"))
        for i in range(count)
    ]


def dev_signer(index: int) -> Signer:
    """One development account (index 0 is the deployer; simulated participant i is i + 1)."""
    return Signer(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"))


def from_keystore(path: str | os.PathLike[str], password: str | None = None) -> Signer:
    """Decrypt an eth-account (V3) keystore; the password comes from env or a prompt."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"cannot read keystore {p}: {exc}") from None
    if password is None:
        password = os.environ.get(ENV_KEYSTORE_PASSWORD)
    if password is None:
        password = getpass.getpass(f"password for keystore {p.name}: ")
    try:
        return from_private_key(Account.decrypt(data, password))
    except ValueError:
        raise KeyLoadError(
            f"cannot decrypt keystore {p}: wrong password (set {ENV_KEYSTORE_PASSWORD} or "
            f"type it at the prompt)"
        ) from None


def write_keystore(
    signer: Signer, path: str | os.PathLike[str], password: str, iterations: int | None = None
) -> Path:
    """Encrypt a signer's key to a V3 keystore file (mode 0600); scrypt unless iterations."""
    p = Path(path)
    if iterations is None:
        data = Account.encrypt(signer.key, password)
    else:
        data = Account.encrypt(signer.key, password, kdf="pbkdf2", iterations=iterations)
    p.write_text(json.dumps(data))
    p.chmod(0o600)
    return p


def from_env(env: dict[str, str] | None = None) -> Signer:
    """Key from FEDSTAKE_PRIVATE_KEY, else from the keystore named by FEDSTAKE_KEYSTORE."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_PRIVATE_KEY):
        return from_private_key(env[ENV_PRIVATE_KEY])
    if env.get(ENV_KEYSTORE):
        return from_keystore(env[ENV_KEYSTORE], env.get(ENV_KEYSTORE_PASSWORD))
    raise KeyLoadError(
        f"no signing key: set {ENV_PRIVATE_KEY} to a hex private key, or {ENV_KEYSTORE} to "
        f"an encrypted keystore file (password in {ENV_KEYSTORE_PASSWORD} or prompted)"
    )
