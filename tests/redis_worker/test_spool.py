"""Spool segments: rotation, discard by sequence number, reload."""

from pathlib import Path

from custom_components.vemonitor.redis_worker import spool as spool_module
from custom_components.vemonitor.redis_worker.spool import Spool

LAYOUT = {"structure": "HmapTimeSeries", "redis_node": "n", "columns": {"a": ["V"]}}


def test_segments_rotate_and_discard(tmp_path: Path) -> None:
    spool = Spool(tmp_path, LAYOUT)
    spool.append(0, [1, 2], [b"a", b"b"])
    spool.append(2, [3], [b"c"])  # contiguous: same segment
    spool.append(5, [6], [b"f"])  # a gap (3, 4 were acknowledged unspooled): new segment
    assert len(list(tmp_path.glob("*.seg"))) == 2
    assert "segments=2" in repr(spool)
    assert spool.releasable(3)
    assert not spool.releasable(2)
    spool.discard(3)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    spool.close()

    again = Spool(tmp_path, LAYOUT)
    (loaded,) = again.load()
    assert (loaded.layout, loaded.timestamps, loaded.rows) == (LAYOUT, [6], [b"f"])
    again.loaded(loaded, 1)
    again.append(1, [7], [b"g"])  # never appends to a segment of a previous run
    assert len(list(tmp_path.glob("*.seg"))) == 2
    again.discard(2)
    assert list(tmp_path.glob("*.seg")) == []
    again.close()


def test_full_segment_rotates(tmp_path: Path) -> None:
    spool = Spool(tmp_path, LAYOUT)
    rows = spool_module.SEGMENT_ROWS
    spool.append(0, list(range(rows)), [b"x"] * rows)
    spool.append(rows, [1], [b"y"])
    assert len(list(tmp_path.glob("*.seg"))) == 2
    spool.close()
