"""A throwaway redis-server for tests: free port, own data dir, optional password, ACL users and TLS.

Used by the redis_worker tests and the Home Assistant layer tests alike, so it has no pytest or project
import: start it, point a client at `server.host`/`server.port`, stop or restart it to simulate outages.

    server = RedisServer(tmp_path, password="s3cret", users=[AclUser("reader", "rpw", "~* +@read")])
    server.start()
    ...
    server.restart()   # data survives (saved on shutdown, reloaded on start)
    server.stop()

With `tls=True` a CA and a server certificate for localhost/127.0.0.1 are generated with `cryptography`;
`server.tls.ca_pem` is the CA certificate text a client needs to verify the server. Servers of one topology
(tests/redis_topologies.py) share one set: `tls=generate_tls_files(...)`, and `sentinel=True` runs one as a
Redis Sentinel.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
import datetime as dt
import ipaddress
from pathlib import Path
import shutil
import socket
import ssl
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class AclUser:
    """An ACL user line: `rules` in redis.conf syntax, e.g. "~* +@read" for a read-only user."""

    name: str
    password: str = field(repr=False)
    rules: str = "~* &* +@all"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The generated CA and server certificate (PEM files) of a TLS server."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_pem(self) -> str:
        """The CA certificate as PEM text (what a client passes to verify the server)."""
        return self.ca_file.read_text()


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def generate_tls_files(directory: Path, hostname: str = "localhost") -> TlsFiles:
    """Write a self-signed CA and a server certificate signed by it (SAN: hostname, 127.0.0.1, ::1)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vemonitor test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class RedisServer:
    """One redis-server process on a free loopback port, its config and data under `directory`.

    The port is chosen once and kept across restarts, so clients reconnect to the same address. The data is
    saved on a clean stop and reloaded on start (RDB in `directory`), like a production server restart.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        directory: Path,
        *,
        password: str | None = None,
        users: Sequence[AclUser] = (),
        tls: bool | TlsFiles = False,
        extra_config: Sequence[str] = (),
        sentinel: bool = False,
        port: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.users = tuple(users)
        if isinstance(tls, TlsFiles):
            self.tls: TlsFiles | None = tls
        else:
            self.tls = generate_tls_files(self.directory / "tls") if tls else None
        self.extra_config = tuple(extra_config)
        self.sentinel = sentinel
        self.replicaof: tuple[str, int] | None = None  # written as `replicaof` at every start
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, tls={self.tls is not None}, running={self.running})"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path:
        """The server log (handy when a test fails)."""
        return self.directory / "redis.log"

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._process.pid if self.running and self._process is not None else None

    def _config(self) -> str:
        lines = [
            "bind 127.0.0.1 ::1",
            "protected-mode no",
            "daemonize no",
            f"dir {self.directory}",
            f"logfile {self.log_file}",
        ]
        if not self.sentinel:
            lines += ["dbfilename dump.rdb", "save 3600 1", "appendonly no"]
        if self.tls is None:
            lines.append(f"port {self.port}")
        else:
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {self.tls.cert_file}",
                f"tls-key-file {self.tls.key_file}",
                f"tls-ca-cert-file {self.tls.ca_file}",
                "tls-auth-clients no",
            ]
        if self.password is not None:
            lines.append(f"requirepass {self.password}")
        lines += [f"user {user.name} on >{user.password} {user.rules}" for user in self.users]
        if self.replicaof is not None:
            lines.append(f"replicaof {self.replicaof[0]} {self.replicaof[1]}")
        lines += self.extra_config
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running:
            return
        config = self.directory / "redis.conf"
        config.write_text(self._config())
        config.chmod(0o600)
        self._process = subprocess.Popen(
            [REDIS_SERVER, str(config), *(["--sentinel"] if self.sentinel else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self._process.returncode}); see {self.log_file}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start in {START_TIMEOUT}s; see {self.log_file}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        """Whether the server answers a PING (NOAUTH counts: it is up)."""
        try:
            raw = socket.create_connection((self.host, self.port), timeout=1.0)
        except OSError:
            return False
        try:
            sock: socket.socket = raw
            if self.tls is not None:
                context = ssl.create_default_context(cafile=str(self.tls.ca_file))
                sock = context.wrap_socket(raw, server_hostname=self.host)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
        except OSError:
            return False
        finally:
            raw.close()
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: the server saves its data first) and wait for the process to end."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Kill without saving (a crash): data since the last save is gone."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop cleanly, then start again on the same port with the same data."""
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
