"""A real Flower federation on one machine (Deployment Engine) around a local chain.

    with LocalFederation(work, participants=5) as fed:      # everything below is started
        summary = fed.run({"num-server-rounds": 3, "behaviours": "0:sign-flip"})
    # … and stopped again, each process by its own id (process group), none left behind

What it starts, in the order a real federation would (README, "Deployment Engine"):

1. **anvil** with a state file (``anvil://?state=FILE``), kept running for the whole
   federation; everyone reaches it over its ``http://127.0.0.1:PORT`` URL, as they would
   an L2's RPC.
2. **The deployment**: the admin (development account 0: arbiter, pauser, treasury)
   deploys and writes the deployment file; the coordinator (a fresh key, with the
   coordinator role) posts its bond and funds the reward pool; every participant — a
   fresh key each (``federation.keys.generate``) — takes tokens from the test token's
   faucet and stakes *with its own key*.
3. **flower-superlink** on a free port (Fleet, Control and Runtime APIs on one port) with
   a private ``FLWR_HOME``, the venv's ``bin/`` on ``PATH`` (it launches
   ``flower-superexec`` → ``flwr-serverapp`` by name) and Flower's runtime dependency
   installation off. The ServerApp inherits this environment: the coordinator's key is
   in ``FEDSTAKE_PRIVATE_KEY`` here and nowhere else.
4. N **flower-supernode** processes, node i with
   ``--node-config "fedstake-key-env='FEDSTAKE_NODE_KEY' partition-id=i num-partitions=N"``
   and participant i's key in *that process's* environment only (never on a command
   line), its own ``FLWR_HOME`` and ClientAppIo port. SuperNodes install no app
   dependencies unless ``--allow-runtime-dependency-installation`` is given; they launch
   ``flower-superexec`` → ``flwr-clientapp`` (``--isolation subprocess``, the default)
   by name, so the venv's ``bin/`` is on their ``PATH`` too.
5. A ``[superlink.NAME]`` entry in the coordinator's ``FLWR_HOME/config.toml``; ``run()``
   is then ``flwr run . NAME --run-config "chain='http://…' deployment='FILE'
   simulated-keys=false …" --stream``.

Variants: ``tls=True`` (a throw-away CA and server certificate for 127.0.0.1, made with
``cryptography``; ``--ssl-ca-certfile/--ssl-certfile/--ssl-keyfile`` on the SuperLink,
``--root-certificates`` on the SuperNodes and in config.toml) and ``supernode_auth=True``
(``--enable-supernode-auth``; one ECDSA P-384 key per SuperNode, registered with
``flwr supernode register`` before it starts with ``--auth-supernode-private-key``).

Every process is started in a session of its own (on Linux it also gets SIGTERM when
this Python process dies), so what it spawns (SuperExec, ServerApp, ClientApps) is in its
process group. ``stop()`` sends SIGTERM to each group we started, then SIGKILL to what is
left; ``leftovers()`` lists any process still in one of our sessions. The chain is
stopped last (anvil dumps its state file on SIGINT).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from federation.chain import connect
from federation.chain.anvil import AnvilChain, free_port
from federation.keys import Signer, dev_signer, generate
from federation.ledger import Ledger
from simulations.flwr_runner import run_config_arg

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
TOKEN = 10**18
NODE_KEY_ENV = "FEDSTAKE_NODE_KEY"
COORDINATOR_KEY_ENV = "FEDSTAKE_PRIVATE_KEY"


def _die_with_parent() -> None:
    """In the child: SIGTERM when this Python process dies, so nothing is orphaned."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def hex_key(signer: Signer) -> str:
    return "0x" + bytes(signer.key).hex()


# -- certificates and SuperNode keys ------------------------------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate: SuperLink --ssl-ca-certfile, --root-certificates elsewhere
    cert: Path  # the SuperLink's certificate (SAN 127.0.0.1, localhost, and any hosts named)
    key: Path  # its private key


def make_tls_certs(out: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """A throw-away CA and a server certificate signed by it (tests, one-machine recipes;
    `simulations/certs.sh` does the same with openssl)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fedstake test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(out / "ca.crt", out / "server.pem", out / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def make_node_auth_key(path: Path) -> tuple[Path, Path]:
    """A SuperNode authentication key pair in OpenSSH format (ECDSA P-384, as
    `ssh-keygen -t ecdsa -b 384 -N '' -f PATH`): Flower accepts NIST curves only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    pub = path.with_suffix(path.suffix + ".pub")
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    return path, pub


# -- processes ----------------------------------------------------------------------------------
def _sessions_of(sids: set[int]) -> set[int]:
    """Pids of live processes whose session is one of `sids` (our children's sessions)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            pid = int(entry.name)
            if os.getsid(pid) in sids and _alive(pid):
                out.add(pid)
    return out


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return int(self.popen.pid)


@dataclass
class Participant:
    index: int  # the SuperNode's partition id
    signer: Signer  # the participant's own key (stakes, signs, claims)

    @property
    def address(self) -> str:
        return self.signer.address


@dataclass
class LocalFederation:
    """anvil + deployment + N staked participants + SuperLink + N SuperNodes (module doc)."""

    work: Path
    participants: int = 4
    name: str = "fedstake-local"
    tls: bool = False
    supernode_auth: bool = False
    stake: float = 50.0  # tokens each participant stakes
    bond: float = 200.0  # the coordinator's bond
    pool: float = 300.0  # the reward pool the coordinator funds
    startup_timeout: float = 60.0
    admin: Signer = field(default_factory=lambda: dev_signer(0))
    coordinator: Signer = field(default_factory=generate)
    people: list[Participant] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    chain: AnvilChain | None = None
    ledger: Ledger | None = None  # the admin's ledger; `as_signer` for anyone else
    superlink_port: int = 0
    tls_files: TlsFiles | None = None

    def __post_init__(self) -> None:
        self.work = Path(self.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.deployment_file = self.work / "deployment.json"
        self.state_file = self.work / "chain-state.json"
        self.artifact_dir = self.work / "artifacts"
        self.flwr_home = self.work / "coordinator-flwr-home"
        self.sessions: set[int] = set()
        self._anvil_pid: int | None = None
        if not self.people:
            self.people = [Participant(i, generate()) for i in range(self.participants)]

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> LocalFederation:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the chain ----------------------------------------------------------------------------
    @property
    def rpc_url(self) -> str:
        assert self.chain is not None, "start the chain first"
        return self.chain.rpc_url

    def start(self) -> None:
        self.start_chain()
        self.setup_ledger()
        if self.tls:
            self.tls_files = make_tls_certs(self.work / "certs")
        self.start_superlink()
        self.write_flwr_config()
        self.start_supernodes()
        self.wait_for_nodes()

    def start_chain(self) -> None:
        chain = connect(f"anvil://?state={self.state_file}")
        assert isinstance(chain, AnvilChain)
        self.chain = chain
        proc = chain._proc  # to check, after stop(), that anvil is gone too
        self._anvil_pid = proc.pid if proc is not None else None

    def setup_ledger(self) -> None:
        """Deploy; the coordinator bonds and funds the pool; each participant stakes."""
        assert self.chain is not None
        admin = Ledger.deploy(
            self.chain,
            admin=self.admin,
            coordinators=(self.coordinator.address,),
            out=self.deployment_file,
        )
        self.ledger = admin
        coord = admin.as_signer(self.coordinator)
        admin.fund_eth(coord.address, 100 * TOKEN)
        admin.transfer_tokens(coord.address, round((self.bond + self.pool) * TOKEN))
        coord.post_bond(round(self.bond * TOKEN))
        coord.fund_reward_pool(round(self.pool * TOKEN))
        for p in self.people:
            me = admin.as_signer(p.signer)
            admin.fund_eth(me.address, 10 * TOKEN)  # gas money (local chain)
            me.faucet()  # tokens from the local test token's faucet
            me.stake(round(self.stake * TOKEN))

    def as_(self, signer: Signer) -> Ledger:
        """A ledger on the running chain acting as `signer` (do not close it: it shares
        the federation's chain)."""
        assert self.ledger is not None
        return self.ledger.as_signer(signer)

    # -- Flower -----------------------------------------------------------------------------
    def _base_env(self, flwr_home: Path) -> dict[str, str]:
        """This environment without any fedstake key, the venv first on PATH, Flower's
        runtime dependency installation off, a private FLWR_HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDSTAKE_")}
        env.update(
            FLWR_HOME=str(flwr_home),
            FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
            PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
            OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
        )
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Proc:
        log = self.work / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as fh:
            fh.write(("$ " + shlex.join(cmd) + "\n").encode())
            fh.flush()
            popen = subprocess.Popen(
                cmd,
                cwd=self.work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group
                preexec_fn=_die_with_parent,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        self.sessions.add(proc.pid)
        return proc

    def _tls_args(self, *, server: bool) -> list[str]:
        if self.tls_files is None:
            return ["--insecure"]
        t = self.tls_files
        if server:
            return [
                "--ssl-ca-certfile",
                str(t.ca),
                "--ssl-certfile",
                str(t.cert),
                "--ssl-keyfile",
                str(t.key),
            ]
        return ["--root-certificates", str(t.ca)]

    def superlink_command(self) -> list[str]:
        cmd = [
            str(VENV_BIN / "flower-superlink"),
            *self._tls_args(server=True),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.superlink_port),
            "--disable-runtime-dependency-installation",
        ]
        if self.supernode_auth:
            cmd.append("--enable-supernode-auth")
        return cmd

    def start_superlink(self) -> Proc:
        self.superlink_port = free_port()
        env = self._base_env(self.flwr_home)
        env[COORDINATOR_KEY_ENV] = hex_key(self.coordinator)  # the ServerApp's signer
        proc = self._spawn("superlink", self.superlink_command(), env)
        self._wait_port(self.superlink_port, proc)
        return proc

    def write_flwr_config(self) -> Path:
        """The coordinator's `FLWR_HOME/config.toml`: one SuperLink connection, the default."""
        lines = [
            "[superlink]",
            f'default = "{self.name}"',
            "",
            f"[superlink.{self.name}]",
            f'address = "127.0.0.1:{self.superlink_port}"',
        ]
        if self.tls_files is None:
            lines.append("insecure = true")
        else:
            lines += ["insecure = false", f'root-certificates = "{self.tls_files.ca}"']
        path = self.flwr_home / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        return path

    def flwr(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A `flwr` CLI command as the coordinator (its FLWR_HOME, no fedstake key)."""
        return subprocess.run(
            [str(VENV_BIN / "flwr"), *args],
            cwd=REPO,
            env=self._base_env(self.flwr_home),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def supernode_command(self, p: Participant, port: int, auth_key: Path | None) -> list[str]:
        node_config = (
            f"fedstake-key-env='{NODE_KEY_ENV}' partition-id={p.index} "
            f"num-partitions={len(self.people)}"
        )
        cmd = [
            str(VENV_BIN / "flower-supernode"),
            *self._tls_args(server=False),
            "--superlink",
            f"127.0.0.1:{self.superlink_port}",
            "--port",
            str(port),
            "--node-config",
            node_config,
        ]
        if auth_key is not None:
            cmd += ["--auth-supernode-private-key", str(auth_key)]
        return cmd

    def start_supernodes(self) -> list[Proc]:
        return [self.start_supernode(p) for p in self.people]

    def start_supernode(self, p: Participant, *, register: bool = True) -> Proc:
        """One SuperNode for participant `p`: its own FLWR_HOME and ClientAppIo port, its
        key in this process's environment only. With SuperNode authentication it gets its
        own key pair, registered first (`flwr supernode register`) unless `register` is
        false (a node the SuperLink must refuse)."""
        home = self.work / f"node-{p.index}-flwr-home"
        auth_key = None
        if self.supernode_auth:
            auth_key, pub = make_node_auth_key(home / "supernode-auth-key")
            if register:
                reg = self.flwr(
                    "supernode", "register", str(pub), self.name, "--name", f"p{p.index}"
                )
                if reg.returncode != 0:
                    raise RuntimeError(f"flwr supernode register failed:\n{reg.stdout}{reg.stderr}")
        env = self._base_env(home)
        env[NODE_KEY_ENV] = hex_key(p.signer)  # this process only, never on a command line
        cmd = self.supernode_command(p, free_port(), auth_key)
        return self._spawn(f"supernode-{p.index}", cmd, env)

    def online_nodes(self) -> int:
        res = self.flwr("supernode", "list", self.name, "--format", "json", timeout=60)
        if res.returncode != 0:
            return 0
        try:
            doc = json.loads(res.stdout)
        except ValueError:
            return 0
        nodes = doc.get("nodes", []) if isinstance(doc, dict) else []
        return sum(1 for n in nodes if str(n.get("status", "")).lower() == "online")

    def wait_for_nodes(self) -> None:
        """Until every SuperNode is connected (the App starts with whoever is there)."""
        deadline = time.monotonic() + self.startup_timeout
        want = len(self.people)
        while time.monotonic() < deadline:
            self._check_alive()
            if self.online_nodes() >= want:
                return
            time.sleep(0.5)
        raise RuntimeError(f"only {self.online_nodes()} of {want} SuperNodes came online")

    def _check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")

    def _wait_port(self, port: int, proc: Proc) -> None:
        import socket

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with socket.socket() as s, contextlib.suppress(OSError):
                s.settimeout(0.5)
                s.connect(("127.0.0.1", port))
                return
            time.sleep(0.2)
        raise RuntimeError(f"{proc.name} is not listening on port {port}")

    # -- the run ----------------------------------------------------------------------------
    def run_config(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the coordinator passes to `flwr run`: the running chain's RPC URL, the
        deployment file, participants' own keys (simulated-keys=false)."""
        return {
            "chain": self.rpc_url,
            "deployment": str(self.deployment_file),
            "simulated-keys": False,
            "artifact-dir": str(self.artifact_dir),
            "summary-file": str(self.work / "summary.json"),
            **(overrides or {}),
        }

    def run_command(self, cfg: dict[str, Any]) -> list[str]:
        return [
            str(VENV_BIN / "flwr"),
            "run",
            ".",
            self.name,
            "--run-config",
            run_config_arg(cfg),
            "--stream",
        ]

    def run(
        self, overrides: dict[str, Any] | None = None, log: Path | None = None, timeout: float = 600
    ) -> dict[str, Any]:
        """`flwr run . NAME --stream` with the coordinator's run config; returns the
        ServerApp's summary (`flwr run` can exit 0 when the ServerApp failed, so a run
        that wrote no summary is an error)."""
        cfg = self.run_config(overrides)
        summary = Path(cfg["summary-file"])
        summary.unlink(missing_ok=True)
        log = log or self.work / "logs" / "flwr-run.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.run_command(cfg)
        with open(log, "w", encoding="utf-8") as fh:
            fh.write("$ " + shlex.join(cmd) + "\n")
            fh.flush()
            proc = subprocess.run(
                cmd,
                cwd=REPO,
                env=self._base_env(self.flwr_home),
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0 or not summary.exists():
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"flwr run failed (exit {proc.returncode}; log {log}):\n{tail}")
        return dict(json.loads(summary.read_text()))

    # -- stopping ---------------------------------------------------------------------------
    def leftovers(self) -> set[int]:
        """Live processes in any session we started, plus anvil if it still runs."""
        left = _sessions_of(self.sessions)
        if self._anvil_pid is not None and _alive(self._anvil_pid):
            left.add(self._anvil_pid)
        return left

    def stop(self, timeout: float = 15.0) -> None:
        """SuperNodes, then the SuperLink (each process group by its id: SIGTERM, then
        SIGKILL), then the chain. Idempotent."""
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _sessions_of(self.sessions) and time.monotonic() < deadline:
            for proc in self.procs:
                proc.popen.poll()  # reap our direct children
            time.sleep(0.2)
        for pid in _sessions_of(self.sessions):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
        if self.chain is not None:
            self.chain.close()  # SIGINT: anvil dumps its state file, then exits
