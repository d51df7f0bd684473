"""The fuzzer itself (vedirect_tools/fuzz.py) stays working: a few hundred cases, its reports, its CLI."""

import json
from pathlib import Path
import re

import pytest

from vedirect_tools import fuzz

SEED = 11


@pytest.fixture(scope="module")
def corpus() -> fuzz.Corpus:
    return fuzz.load_corpus()


def test_corpus_holds_every_capture(corpus: fuzz.Corpus) -> None:
    names = {capture.name for capture in corpus.captures}
    assert names == {path.name for path in fuzz.CAPTURES.iterdir() if path.suffix != ".md"}
    for capture in corpus.captures:
        for start, end in capture.spans:
            assert capture.data[start:end] in capture.raws
    mangled = next(capture for capture in corpus.captures if "mangled" in capture.name)
    assert mangled.raws == frozenset()


def test_300_cases_pass(corpus: fuzz.Corpus) -> None:
    assert [failure for case in range(300) for failure in fuzz.run_case(corpus, SEED, case)] == []


def test_a_broken_parser_is_caught(corpus: fuzz.Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariants bite: a slow path without the field grammar accepts blocks with odd bytes."""
    anything = re.compile(b".*", re.DOTALL)
    monkeypatch.setattr(fuzz.framing, "_LABEL_RE", anything)
    monkeypatch.setattr(fuzz.framing, "_VALUE_RE", anything)
    failures = [failure for case in range(300) for failure in fuzz.run_case(corpus, SEED, case)]
    assert "grammar" in {failure.invariant for failure in failures}
    assert all(failure.data and failure.chunks for failure in failures)
    # Deterministic: a case depends on (seed, case) alone, so a failure replays.
    assert [fuzz.run_case(corpus, SEED, failure.case) for failure in failures[:5]] == [
        [other for other in failures if other.case == failure.case] for failure in failures[:5]
    ]


def test_main_reports_and_writes_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "failures.jsonl"
    assert fuzz.main(["--cases", "40", "--seed", str(SEED), "--failures", str(target)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "fuzz: 40 cases, 0 failures"
    assert any("cases/s" in line for line in out)
    assert not target.exists()

    def broken(corpus: fuzz.Corpus, seed: int, case: int) -> list[fuzz.Failure]:
        return [fuzz.Failure(case, "checksum", "made up", b"\r\nV\t1", [5])] if case % 2 else []

    monkeypatch.setattr(fuzz, "run_case", broken)
    assert fuzz.main(["--cases", "10", "--failures", str(target)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "fuzz: 10 cases, 5 failures"
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["case"] for row in rows] == [1, 3, 5, 7, 9]
    assert rows[0] == {
        "seed": fuzz.DEFAULT_SEED,
        "case": 1,
        "invariant": "checksum",
        "detail": "made up",
        "hex": b"\r\nV\t1".hex(),
        "chunks": [5],
    }
