"""Throwaway Redis Sentinel groups and Redis Clusters for tests, built of tests/redis_server.py servers.

Free loopback ports, one directory per process, torn down on exit; no pytest import, like redis_server.py:

    with SentinelGroup(tmp_path, replicas=1, sentinels=3) as group:
        old = group.kill_master()             # SIGKILL
        new = group.wait_failover(old)        # the sentinels promoted the replica
        group.restart(old)                    # back as a replica of the new master

    with RedisClusterNodes(tmp_path, masters=3, replicas=1) as cluster:
        cluster.kill(cluster.primaries()[0]); cluster.wait_ok()

Sentinels start knowing each other and the replicas (`sentinel myid` + `known-sentinel`/`known-replica`
lines), so a group is ready for a failover at once instead of after their discovery (seconds).
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
import secrets
import shutil
import socket
import subprocess
import threading
import time
from typing import Any

import redis

from tests.redis_server import REDIS_SERVER, START_TIMEOUT, AclUser, RedisServer, TlsFiles, generate_tls_files

REDIS_CLI = shutil.which("redis-cli") or str(Path(REDIS_SERVER).with_name("redis-cli"))
SERVICE_NAME = "vemonitor-master"
SLOTS = 16384
HOST = "127.0.0.1"
POLL = 0.05


def _deadline_loop(timeout: float, what: str) -> Iterator[None]:
    """Yield until the caller breaks out; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen in {timeout:.0f} s")
        time.sleep(POLL)


def _client(server: RedisServer, password: str | None, **kwargs: Any) -> redis.Redis:
    """A plain synchronous client of one server (TLS verified against the topology's CA)."""
    options: dict[str, Any] = {"password": password, "socket_timeout": 5, "decode_responses": True}
    if server.tls is not None:
        options |= {"ssl": True, "ssl_ca_certs": str(server.tls.ca_file)}
    return redis.Redis(server.host, server.port, **(options | kwargs))


def _tls_lines(tls: TlsFiles | None, *options: str) -> list[str]:
    return [f"{option} yes" for option in options] if tls is not None else []


class Relay:
    """A TCP relay from a free loopback port to `target_port`, whose downstream direction (what the target
    sends, e.g. a master's replication stream) can be held back: held bytes are delivered on release, or
    never if the target's side closes first (the master died with the writes its replica never got).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._held: list[tuple[socket.socket, bytes]] | None = None
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._threads = [threading.Thread(target=self._accept, name=f"relay {self.port}", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            downstream.settimeout(None)
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=2)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            pumps = [
                threading.Thread(target=self._pump, args=(downstream, upstream, False), daemon=True),
                threading.Thread(target=self._pump, args=(upstream, downstream, True), daemon=True),
            ]
            with self._lock:
                self._sockets += [downstream, upstream]
                self._threads += pumps
            for pump in pumps:
                pump.start()

    def _pump(self, source: socket.socket, target: socket.socket, holdable: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if holdable and self._held is not None:
                        self._held.append((target, data))
                        continue
                target.sendall(data)
        except OSError:
            pass
        with self._lock:
            if self._held is not None:  # what the dead side sent is gone with it
                self._held = [(sock, data) for sock, data in self._held if sock is not target]
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def hold(self) -> None:
        """From now on, keep what the target sends instead of delivering it."""
        with self._lock:
            if self._held is None:
                self._held = []

    def release(self) -> None:
        """Deliver what was held, and everything from now on."""
        with self._lock:
            held, self._held = self._held or [], None
            for target, data in held:
                with suppress(OSError):
                    target.sendall(data)

    def close(self) -> None:
        """Stop relaying; every thread ended."""
        self._closed = True
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(START_TIMEOUT)
        self._listener.close()
        for sock in self._sockets:
            sock.close()


class SentinelGroup:
    """A master, its replicas and the sentinels monitoring it as `service_name` (quorum: a majority).

    `password` is every data node's requirepass (and masterauth, and the sentinels' auth-pass);
    `sentinel_password` the sentinels' requirepass. `tls`: every process speaks TLS only (replication and
    the sentinels' links too), with one shared CA (`tls_files.ca_pem`). `relay`: the first replica reaches
    the master through a Relay (`replication_held()`); `failover_timeout` is then long, so that the
    sentinels do not point the replica at the master itself meanwhile (+fix-slave-config).
    """

    def __init__(
        self,
        directory: Path,
        *,
        replicas: int = 1,
        sentinels: int = 3,
        password: str | None = None,
        sentinel_password: str | None = None,
        tls: bool = False,
        relay: bool = False,
        down_after: int = 1500,
        failover_timeout: int = 5000,
        service_name: str = SERVICE_NAME,
    ) -> None:
        self.directory = Path(directory)
        self.password, self.sentinel_password = password, sentinel_password
        self.service_name = service_name
        self.tls_files = generate_tls_files(self.directory / "tls") if tls else None
        self.down_after = down_after
        self.failover_timeout = 60_000 if relay else failover_timeout
        self.quorum = sentinels // 2 + 1
        tls_files: bool | TlsFiles = self.tls_files or False
        node_config = [f"masterauth {password}"] if password else []
        node_config += _tls_lines(self.tls_files, "tls-replication")
        node_config += ["repl-diskless-sync yes", "repl-diskless-sync-delay 0"]
        self.nodes = [
            RedisServer(
                self.directory / f"node-{index}", password=password, tls=tls_files, extra_config=node_config
            )
            for index in range(1 + replicas)
        ]
        self.relay = Relay(self.nodes[0].port) if relay and replicas else None
        for index, node in enumerate(self.nodes[1:]):
            port = self.relay.port if self.relay is not None and index == 0 else self.nodes[0].port
            node.replicaof = (HOST, port)
        self._ids = [secrets.token_hex(20) for _ in range(sentinels)]
        self.sentinel_servers = [
            RedisServer(
                self.directory / f"sentinel-{index}", password=sentinel_password, tls=tls_files, sentinel=True
            )
            for index in range(sentinels)
        ]
        for index, sentinel in enumerate(self.sentinel_servers):
            sentinel.extra_config = tuple(self._sentinel_config(index))
        self._started = False

    def _sentinel_config(self, index: int) -> list[str]:
        name, master = self.service_name, self.nodes[0]
        lines = [
            f"sentinel myid {self._ids[index]}",
            f"sentinel monitor {name} {HOST} {master.port} {self.quorum}",
            f"sentinel down-after-milliseconds {name} {self.down_after}",
            f"sentinel failover-timeout {name} {self.failover_timeout}",
            f"sentinel parallel-syncs {name} 1",
        ]
        lines += [f"sentinel known-replica {name} {HOST} {node.port}" for node in self.nodes[1:]]
        lines += [
            f"sentinel known-sentinel {name} {HOST} {other.port} {self._ids[number]}"
            for number, other in enumerate(self.sentinel_servers)
            if number != index
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            lines.append(f"sentinel sentinel-pass {self.sentinel_password}")
        return lines + _tls_lines(self.tls_files, "tls-replication")

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """(host, port) of every sentinel."""
        return [(sentinel.host, sentinel.port) for sentinel in self.sentinel_servers]

    def start(self) -> None:
        """Start the data nodes, wait for their replication, then the sentinels; wait until they agree.
        Once: a started group is left as it is (also by `with`)."""
        if self._started:
            return
        self._started = True
        try:
            for node in self.nodes:
                node.start()
            master = self.master()
            for _ in _deadline_loop(START_TIMEOUT, "replication to the replicas"):
                with self.client(master) as client:
                    if client.info("replication")["connected_slaves"] == len(self.nodes) - 1:
                        break
            for sentinel in self.sentinel_servers:
                sentinel.start()
            self.wait_healthy(START_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (sentinels first: no failover while the nodes go down)."""
        for server in [*self.sentinel_servers, *self.nodes]:
            server.kill()
        if self.relay is not None:
            self.relay.close()

    def __enter__(self) -> SentinelGroup:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client(self, server: RedisServer, **kwargs: Any) -> redis.Redis:
        """A synchronous client of a data node or a sentinel of the group (use it as a context manager)."""
        is_sentinel = server in self.sentinel_servers
        return _client(server, self.sentinel_password if is_sentinel else self.password, **kwargs)

    def _sentinel_state(self, sentinel: RedisServer) -> dict[str, Any] | None:
        try:
            with self.client(sentinel, socket_timeout=2) as client:
                state: dict[str, Any] = client.sentinel_master(self.service_name)
                state["replicas"] = client.sentinel_slaves(self.service_name)
                return state
        except redis.RedisError:
            return None

    def master_address(self) -> tuple[str, int]:
        """The master's (host, port) as the first answering sentinel names it."""
        for sentinel in self.sentinel_servers:
            state = self._sentinel_state(sentinel)
            if state is not None:
                return state["ip"], int(state["port"])
        raise RuntimeError("no sentinel answers")

    def master(self) -> RedisServer:
        """The data node the sentinels name master (before the sentinels start: the first node)."""
        if not any(sentinel.running for sentinel in self.sentinel_servers):
            return self.nodes[0]
        _, port = self.master_address()
        return next(node for node in self.nodes if node.port == port)

    def replicas(self) -> list[RedisServer]:
        """The running data nodes other than the master."""
        master = self.master()
        return [node for node in self.nodes if node is not master and node.running]

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every sentinel names the same running master, knows the other sentinels, and sees every
        running replica online and synced; and the master has them all connected: a kill now fails over."""
        for _ in _deadline_loop(timeout, "a healthy sentinel group"):
            if self._healthy():
                return

    def _healthy(self) -> bool:
        states = [self._sentinel_state(sentinel) for sentinel in self.sentinel_servers]
        if any(state is None for state in states):
            return False
        ports = {int(state["port"]) for state in states if state is not None}
        if len(ports) != 1:
            return False
        master = next((node for node in self.nodes if node.port in ports), None)
        if master is None or not master.running:
            return False
        running = {node.port for node in self.nodes if node.running and node is not master}
        for state in states:
            assert state is not None
            if not state["is_master"] or state["is_sdown"] or state["is_odown"]:
                return False
            if state["num-other-sentinels"] < len(self.sentinel_servers) - 1:
                return False
            seen = {
                int(replica["port"])
                for replica in state["replicas"]
                if not (replica["is_sdown"] or replica["is_odown"] or replica["is_disconnected"])
                and replica.get("master-link-status") == "ok"
            }
            if not running <= seen:
                return False
        try:
            with self.client(master) as client:
                info = client.info("replication")
        except redis.RedisError:
            return False
        online = sum(
            1
            for key, value in info.items()
            if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
        )
        return info.get("role") == "master" and online >= len(running)

    def kill_master(self) -> RedisServer:
        """SIGKILL the master (no save, no goodbye); returns its node."""
        master = self.master()
        master.kill()
        return master

    def wait_failover(self, old: RedisServer, timeout: float = 30.0) -> RedisServer:
        """Until every sentinel names another master than `old` and that node says it is master."""
        for _ in _deadline_loop(timeout, f"the failover away from port {old.port}"):
            states = [self._sentinel_state(sentinel) for sentinel in self.sentinel_servers]
            ports = {int(state["port"]) for state in states if state is not None}
            if len(ports) != 1 or old.port in ports or any(state is None for state in states):
                continue
            new = next((node for node in self.nodes if node.port in ports), None)
            if new is None or not new.running:
                continue
            try:
                with self.client(new) as client:
                    if client.info("replication")["role"] == "master":
                        return new
            except redis.RedisError:
                continue
        raise AssertionError("unreachable")  # pragma: no cover

    def restart(self, node: RedisServer, timeout: float = 30.0) -> None:
        """Start a killed node again as a replica of the current master; wait until the group is healthy."""
        master = self.master()
        node.replicaof = (master.host, master.port)
        node.start()
        self.wait_healthy(timeout)

    @contextmanager
    def replication_held(self) -> Iterator[None]:
        """While inside, the master's writes do not reach the relayed replica (needs `relay=True`)."""
        assert self.relay is not None, "SentinelGroup(relay=True) holds replication back"
        self.relay.hold()
        try:
            yield
        finally:
            self.relay.release()


class RedisClusterNodes:
    """`masters` primaries with `replicas` replicas each, joined by `redis-cli --cluster create` (a lone
    node, masters=1 and replicas=0, gets every slot itself).

    `password`: every node's requirepass and masterauth; `users` their ACL users. `tls`: clients,
    replication and the cluster bus speak TLS only, one shared CA (`tls_files.ca_pem`). Nodes keep their
    identity (nodes.conf in their directory) across kill/restart: a restarted primary comes back as a
    replica of its successor.
    """

    def __init__(
        self,
        directory: Path,
        *,
        masters: int = 3,
        replicas: int = 1,
        password: str | None = None,
        users: Sequence[AclUser] = (),
        tls: bool = False,
        node_timeout: int = 1000,
    ) -> None:
        self.directory = Path(directory)
        self.password = password
        self.masters, self.replicas_per_master = masters, replicas
        self.tls_files = generate_tls_files(self.directory / "tls") if tls else None
        self.node_timeout = node_timeout
        tls_files: bool | TlsFiles = self.tls_files or False
        self.nodes: list[RedisServer] = []
        for index in range(masters * (1 + replicas)):
            config = [
                "cluster-enabled yes",
                f"cluster-config-file nodes-{index}.conf",
                f"cluster-node-timeout {node_timeout}",
                "cluster-replica-validity-factor 0",
                "cluster-allow-replica-migration no",
                "repl-diskless-sync yes",
                "repl-diskless-sync-delay 0",
                f"cluster-port {_free_port()}",
                *_tls_lines(self.tls_files, "tls-replication", "tls-cluster"),
            ]
            if password:
                config.append(f"masterauth {password}")
            self.nodes.append(
                RedisServer(
                    self.directory / f"node-{index}",
                    password=password,
                    users=users,
                    tls=tls_files,
                    extra_config=config,
                )
            )
        self._started = False

    @property
    def seeds(self) -> list[tuple[str, int]]:
        """(host, port) of every node, for a client's startup nodes."""
        return [(node.host, node.port) for node in self.nodes]

    def start(self) -> None:
        """Start the nodes, join them into a cluster, wait for cluster_state:ok everywhere (once)."""
        if self._started:
            return
        self._started = True
        try:
            for node in self.nodes:
                node.start()
            if len(self.nodes) == 1:  # redis-cli creates clusters of 3 primaries or more
                with self.client(self.nodes[0]) as client:
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, SLOTS - 1)
            else:
                command = [
                    REDIS_CLI,
                    "--cluster",
                    "create",
                    *(f"{node.host}:{node.port}" for node in self.nodes),
                ]
                command += ["--cluster-replicas", str(self.replicas_per_master), "--cluster-yes"]
                command += self._cli_options()
                subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT * 3)
            self.wait_ok(START_TIMEOUT * 3)
        except BaseException:
            self.stop()
            raise

    def _cli_options(self) -> list[str]:
        options = ["-a", self.password, "--no-auth-warning"] if self.password else []
        if self.tls_files is not None:
            options += ["--tls", "--cacert", str(self.tls_files.ca_file)]
        return options

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def __enter__(self) -> RedisClusterNodes:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client(self, node: RedisServer, **kwargs: Any) -> redis.Redis:
        """A synchronous client of one node (not cluster-aware: for inspection)."""
        return _client(node, self.password, **kwargs)

    def _ask(self, node: RedisServer, *command: Any) -> Any:
        try:
            with self.client(node, socket_timeout=2) as client:
                return client.execute_command(*command)
        except redis.RedisError:
            return None

    def node_id(self, node: RedisServer) -> str:
        node_id: str = self._ask(node, "CLUSTER", "MYID")
        return node_id

    def primaries(self) -> list[RedisServer]:
        """The running nodes that are primaries with slots, as they say themselves."""
        return [node for node in self.nodes if node.running and self._role(node) == "master"]

    def _role(self, node: RedisServer) -> str | None:
        role = self._ask(node, "ROLE")
        return None if not role else str(role[0])

    def shard_of(self, key: str) -> RedisServer:
        """The primary serving `key`'s slot (as the cluster sees it now)."""
        slot = int(self._ask(self.primaries()[0], "CLUSTER", "KEYSLOT", key))
        for node in self.primaries():
            if self._owns(node, slot):
                return node
        raise LookupError(f"no primary serves slot {slot}")

    def _owns(self, node: RedisServer, slot: int) -> bool:
        for line in str(self._ask(node, "CLUSTER", "NODES") or "").splitlines():
            fields = line.split()
            if "myself" not in fields[2]:
                continue
            for part in fields[8:]:
                if part.startswith("["):
                    continue
                low, _, high = part.partition("-")
                if int(low) <= slot <= int(high or low):
                    return True
        return False

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node reports cluster_state:ok, every slot served by a running primary, every
        running replica synced with its primary, and all of them agree on the primaries."""
        for _ in _deadline_loop(timeout, "cluster_state:ok on every node"):
            if self._ok():
                return

    def _ok(self) -> bool:
        running = [node for node in self.nodes if node.running]
        views: set[frozenset[int]] = set()
        for node in running:
            info = self._ask(node, "CLUSTER", "INFO")
            if not info or "cluster_state:ok" not in info:
                return False
            primaries = set()
            for line in str(self._ask(node, "CLUSTER", "NODES") or "").splitlines():
                fields = line.split()
                port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                if port in {other.port for other in running} and "fail" in fields[2]:
                    return False  # a node back that this one still takes for failed
                if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8:
                    primaries.add(port)
            views.add(frozenset(primaries))
            replication = self._ask(node, "INFO", "replication") or {}
            if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                return False
        if len(views) != 1:
            return False
        (primaries,) = views
        return primaries <= {node.port for node in running} and len(primaries) == self.masters

    def kill(self, node: RedisServer) -> None:
        """SIGKILL one node."""
        node.kill()

    def restart(self, node: RedisServer, timeout: float = 30.0) -> None:
        """Start a killed node again (same identity); wait until the cluster is ok with it."""
        node.start()
        self.wait_ok(timeout)

    def wait_failover(self, old: RedisServer, timeout: float = 30.0) -> None:
        """Until the cluster is ok again without `old` (a replica took its slots)."""
        assert not old.running
        self.wait_ok(timeout)

    def migrate_slot(self, key: str, to: RedisServer, during: Callable[[], None] | None = None) -> int:
        """Move the slot of `key` (with its keys) to the primary `to`; returns the slot.

        `during` is called while the slot is half-moved: MIGRATING on its owner and IMPORTING on `to`, its
        keys already on `to` (writes to them are answered -ASK by the owner). Then every primary is told
        the new owner (writes through an old slot map are answered -MOVED).
        """
        source = self.shard_of(key)
        slot = int(self._ask(source, "CLUSTER", "KEYSLOT", key))
        if source is to:
            return slot
        source_id, target_id = self.node_id(source), self.node_id(to)
        with self.client(to) as target_client, self.client(source) as source_client:
            target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while keys := source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                auth = ["AUTH", self.password] if self.password else []
                source_client.execute_command("MIGRATE", to.host, to.port, "", 0, 5000, *auth, "KEYS", *keys)
            if during is not None:
                during()
            for node in self.primaries():
                with self.client(node) as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return slot


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
