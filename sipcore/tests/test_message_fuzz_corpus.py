"""Replays the corpus kept from atheris runs (``corpus/fuzz``) through the fuzz invariants.

Every input the fuzzer found interesting, and every crash it found (named
``crash-*``, each fixed since), must keep satisfying ``check_invariants``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sipcore.fuzz_parser import check_invariants

FUZZ_CORPUS = Path(__file__).resolve().parent / "corpus" / "fuzz"
FILES = sorted(p for p in FUZZ_CORPUS.iterdir() if p.is_file())


def test_message_fuzz_corpus_is_kept_small() -> None:
    assert 0 < len(FILES) < 200


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_message_fuzz_corpus_input_keeps_the_invariants(path: Path) -> None:
    check_invariants(path.read_bytes())
