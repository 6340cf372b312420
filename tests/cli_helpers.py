"""Running ``fedstake`` in-process for the CLI tests: output captured, a key per call, and
a check that the command an error message advises exists."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from federation.cli import main
from federation.keys import Signer

KEY_VARS = ("FEDSTAKE_PRIVATE_KEY", "FEDSTAKE_KEYSTORE", "FEDSTAKE_KEYSTORE_PASSWORD")
ADVICE = re.compile(r"`fedstake ([^`]+)`")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@contextlib.contextmanager
def environ(**values: str | None) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hex_key(signer: Signer) -> str:
    return "0x" + bytes(signer.key).hex()


def cli(*args: str, key: Signer | None = None, env: dict[str, str] | None = None) -> Result:
    """``fedstake ARGS`` in this process, as ``key`` (None: the chain's default account)."""
    values: dict[str, str | None] = dict.fromkeys(KEY_VARS)
    if key is not None:
        values["FEDSTAKE_PRIVATE_KEY"] = hex_key(key)
    values.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    with environ(**values), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def ok(*args: str, **kw: Any) -> Result:
    r = cli(*args, **kw)
    assert r.code == 0, f"fedstake {' '.join(args)} → {r.code}\n{r.out}\n{r.err}"
    return r


def fails(*args: str, code: int = 1, says: str = "", **kw: Any) -> str:
    """The command fails with ``code`` and one line on stderr, no traceback, naming a command
    that exists (its ``--help`` works) when the error is a code-1 error."""
    r = cli(*args, **kw)
    assert r.code == code, f"fedstake {' '.join(args)} → {r.code}, not {code}\n{r.out}\n{r.err}"
    assert "Traceback" not in r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fedstake: error: "), r.err
    assert says in r.err, f"{says!r} not in {r.err!r}"
    assert_advice_exists(r.err, require=code == 1)
    return r.err


def assert_advice_exists(text: str, require: bool = True) -> None:
    """Every `fedstake …` the text names is a real command: its --help succeeds."""
    found = ADVICE.findall(text)
    assert found or not require, f"no command named in the advice: {text!r}"
    for cmd in found:
        argv = shlex.split(cmd.replace("…", "X"))
        r = cli(*argv, "--help")
        assert r.code == 0, f"advised `fedstake {cmd}` does not exist: {r.err or r.out}"
