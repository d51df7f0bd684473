"""The soak's independent count catches what it claims to: a missing point, a wrong value, a stale one, a
rewrite; and lets through what the design allows (stale values within the stall window, the hard-kill bound).

The sent log is written the way the simulator writes it (encoded blocks with their send time); Redis is a
real server.
"""

from collections.abc import Iterator
import io
import json
from pathlib import Path

import pytest
from redis import Redis

from tests.redis_server import RedisServer
from tests.soak import checker
from vedirect_tools.simulator import encode_block

T0 = 1_800_000_000
COLUMNS = ["V", "I", "P", "Alarm", "AR"]
KEY = "soak_bmv1_bmv1"


def _block(second: int) -> bytes:
    """A BMV block whose values say which second it was sent in."""
    return encode_block(
        [
            ("PID", "0xA381"),
            ("V", str(12000 + second)),
            ("I", str(-second)),
            ("P", "-91"),
            ("Alarm", "OFF"),
            ("AR", "0"),
        ]
    )


def _row(second: int) -> str:
    values = {"V": (12000 + second) / 1000, "I": -second / 1000, "P": -91.0, "Alarm": 0, "AR": 0}
    return json.dumps(values)


def _write_run(workdir: Path, seconds: range, events: list[dict[str, object]]) -> None:
    sent = workdir / "bmv1.jsonl"
    with sent.open("w") as log:
        for second in seconds:
            # Sent 0.3 s into each second, line noise before one of them.
            noise = b"\x00\r\n:zz" if second == 5 else b""
            log.write(json.dumps({"t": T0 + second + 0.3, "data": (noise + _block(second)).hex()}) + "\n")
    spec = {"name": "bmv1", "key": KEY, "columns": COLUMNS, "sent_log": str(sent)}
    (workdir / "devices.json").write_text(json.dumps([spec]))
    lines = [{"kind": "ha_up", "t": T0 - 5.0}, *events, {"kind": "ha_down", "t": T0 + 62.0, "hard": False}]
    (workdir / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def client(redis_plain: RedisServer, socket_enabled: None) -> Iterator[Redis]:
    """A client of the test Redis, the soak's key emptied."""
    with Redis(host="127.0.0.1", port=redis_plain.port, decode_responses=True) as redis_client:
        redis_client.delete(KEY)
        yield redis_client


def _check(workdir: Path, client: Redis) -> tuple[int, str]:
    out = io.StringIO()
    status = checker.check(workdir, client, out)
    return status, out.getvalue()


def test_every_slot_stored_counts_clean(tmp_path: Path, client: Redis) -> None:
    _write_run(tmp_path, range(60), [])
    # The slot of second s holds the block sent at s - 1 + 0.3 (the newest before its tick).
    client.hset(KEY, mapping={str(T0 + s): _row(s - 1) for s in range(1, 61)})
    status, out = _check(tmp_path, client)
    assert status == 0, out
    assert out.splitlines()[-1].startswith("soak: 60 expected, 60 stored, 0 lost, 0 wrong, 0 faults")


def test_lost_wrong_stale_and_rewritten_points_are_counted(tmp_path: Path, client: Redis) -> None:
    _write_run(tmp_path, range(60), [])
    rows = {str(T0 + s): _row(s - 1) for s in range(1, 61)}
    del rows[str(T0 + 10)]  # lost
    rows[str(T0 + 20)] = _row(19).replace("-91.0", "-92.0")  # a value nobody sent
    rows[str(T0 + 30)] = _row(2)  # sent 28 s earlier: out of window
    rows[str(T0 + 41)] = _row(38)  # older than what slot 40 holds: written back in time
    client.hset(KEY, mapping=rows)
    status, out = _check(tmp_path, client)
    assert status == 1
    assert f"lost: bmv1 slot {T0 + 10}" in out
    assert f"wrong: bmv1 slot {T0 + 20}" in out
    assert f"out of window: bmv1 slot {T0 + 30}" in out
    assert f"back in time: bmv1 slot {T0 + 41}" in out
    assert "1 lost, 1 wrong" in out.splitlines()[-1]


def test_silence_and_the_hard_kill_bound_are_allowed(tmp_path: Path, client: Redis) -> None:
    silent = set(range(20, 30))
    kill = {"kind": "ha_down", "t": T0 + 45.5, "hard": True}
    back = {"kind": "ha_up", "t": T0 + 48.0}
    _write_run(tmp_path, range(60), [])
    lines = (tmp_path / "bmv1.jsonl").read_text().splitlines()
    (tmp_path / "bmv1.jsonl").write_text(
        "".join(f"{line}\n" for s, line in enumerate(lines) if s not in silent)
    )
    events = (tmp_path / "events.jsonl").read_text().splitlines()
    fault = {"kind": "ha_kill", "target": "hass", "t0": T0 + 45.5, "t1": T0 + 48.0}
    events[1:1] = [json.dumps(kill), json.dumps(back), json.dumps(fault)]
    (tmp_path / "events.jsonl").write_text("\n".join(events) + "\n")
    rows = {str(T0 + s): _row(s - 1) for s in range(1, 61) if s - 1 not in silent}
    for s in range(21, 25):  # the device fell silent: its last block stays the sample for the stall window
        rows[str(T0 + s)] = _row(19)
    for s in range(
        41, 46
    ):  # samples not yet sent when HA was killed (44 and 45: HA's last 2 s, not expected)
        rows.pop(str(T0 + s), None)
    client.hset(KEY, mapping=rows)
    status, out = _check(tmp_path, client)
    assert status == 0, out
    summary = out.splitlines()[-1]
    assert "0 lost, 0 wrong, 1 faults (3 lost within the hard-kill bound" in summary
    assert "ha_kill" in out
