"""Every error the ledger raises; each message says what to do next.

``ContractRevert`` subclasses named after the contracts' custom errors are generated
from the ABI in ``federation.revert``; the classes here are the fixed, hand-named ones.
"""

from __future__ import annotations

from typing import Any


class FedstakeError(Exception):
    """Base of all ledger errors."""


class ConfigError(FedstakeError):
    """A setting (backend URL, key source, deployment file) is missing or malformed."""


class KeyLoadError(ConfigError):
    """No signing key could be loaded (env var unset, keystore unreadable, bad password)."""


class DeploymentError(FedstakeError):
    """The deployment file does not match the chain it is opened against."""


class WrongChainError(DeploymentError):
    def __init__(self, expected: int, actual: int, path: str | None = None) -> None:
        where = f" ({path})" if path else ""
        super().__init__(
            f"deployment file{where} is for chain id {expected} but the RPC serves chain id "
            f"{actual}: point --chain at the chain the contracts were deployed to, or deploy "
            f"again on this chain with `fedstake deploy`"
        )
        self.expected = expected
        self.actual = actual


class NoCodeError(DeploymentError):
    def __init__(self, name: str, address: str) -> None:
        super().__init__(
            f"no contract code at {name} address {address}: the deployment file does not "
            f"match this chain (a restarted local chain loses its state — keep it with "
            f"`fedstake chain up` or anvil://?state=FILE, or redeploy with `fedstake deploy`)"
        )
        self.name = name
        self.address = address


class RpcUnreachableError(FedstakeError):
    def __init__(self, url: str, cause: BaseException | None = None) -> None:
        detail = f": {cause}" if cause else ""
        super().__init__(
            f"cannot reach the RPC at {url}{detail}; check the URL and that the node is "
            f"running (for a local chain: `fedstake chain up`, or use anvil://)"
        )
        self.url = url


class TransientRpcError(FedstakeError):
    """A retryable transport failure (timeout, reset, 429, 5xx) that outlived its retries."""


class TransactionFailedError(FedstakeError):
    """A transaction was mined but reverted without decodable reason, or was dropped."""


class PreconditionError(FedstakeError):
    """A client-side check failed before sending (balance, allowance, stake, round state)."""


class InsufficientBalanceError(PreconditionError):
    def __init__(self, what: str, have: int, need: int, hint: str) -> None:
        super().__init__(f"insufficient {what}: have {have}, need {need}; {hint}")
        self.have = have
        self.need = need


class InsufficientAllowanceError(PreconditionError):
    def __init__(self, have: int, need: int, spender: str) -> None:
        super().__init__(
            f"insufficient token allowance for {spender}: have {have}, need {need}; "
            f"approve it first with `fedstake approve AMOUNT` (the ledger approves "
            f"automatically unless auto_approve=False / --no-auto-approve)"
        )
        self.have = have
        self.need = need


class ContractRevert(FedstakeError):  # noqa: N818 - named in the brief
    """A call reverted; subclasses carry the custom error's name and decoded arguments."""

    error_name: str = ""
    hint: str = ""

    def __init__(self, message: str = "", args: dict[str, Any] | None = None) -> None:
        self.arguments: dict[str, Any] = dict(args or {})
        for key, value in self.arguments.items():
            if not hasattr(type(self), key):
                setattr(self, key, value)
        super().__init__(message or self._default_message())

    def _default_message(self) -> str:
        rendered = ", ".join(f"{k}={_short(v)}" for k, v in self.arguments.items())
        text = f"contract reverted with {self.error_name or type(self).__name__}({rendered})"
        from federation.revert import HINTS

        hint = self.hint or HINTS.get(self.error_name, "")
        return f"{text}: {hint}" if hint else text


class UnknownRevert(ContractRevert):
    """Revert data that matches no error in the ABI (or a plain require string / panic)."""


def _short(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return repr(value) if isinstance(value, str) else str(value)


def __getattr__(name: str) -> type[ContractRevert]:
    """``federation.errors.NotStaked`` etc.: the class of any custom error in the shipped ABIs."""
    if name[:1].isupper():
        from federation.deploy import load_abis
        from federation.revert import RevertDecoder, error_class

        if name in RevertDecoder(load_abis().values()).names:
            return error_class(name)
    raise AttributeError(f"module 'federation.errors' has no attribute {name!r}")
