"""The typed pruner contract: the ``Pruner`` protocol, ``register_score_pruner``, and mypy holding pruners to it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plantseek.core.errors import ConfigError
from plantseek.prune.contract import PRUNERS, Pruner, get_pruner, protocol_of, rank_of, tags_of
from plantseek.prune.variants import register_score_pruner

from test_pruning import AbsScore

ROOT = Path(__file__).resolve().parents[2]


class HandWritten:
    name = "hand-written"

    def prune(self, model, data, density, *, generator, budget):
        raise NotImplementedError


def test_baseline_pruners_and_a_hand_written_class_are_pruners():
    for name in ("magnitude", "snip-local", "synflow-100", "grasp-multishot", "edge-popup"):
        assert isinstance(get_pruner(name), Pruner), name
    assert isinstance(HandWritten(), Pruner)
    assert not isinstance(object(), Pruner)


def test_register_score_pruner_registers_the_score_and_its_variants(monkeypatch):
    PRUNERS.names()  # the built-ins loaded, then registered into a copy that the test's end discards
    monkeypatch.setattr(PRUNERS, "_items", dict(PRUNERS._items))
    name = "test-abs-variants"
    register_score_pruner(AbsScore, name=name, tags={"test-variants"}, rank=7, variants=("local", "multishot"))
    base, local, multi = (get_pruner(n) for n in (name, f"{name}-local", f"{name}-multishot"))
    assert (tags_of(base), tags_of(local), tags_of(multi)) == ({"test-variants"}, {"local"}, {"test-variants"})
    assert {rank_of(p) for p in (base, local, multi)} == {7}
    assert (protocol_of(base), protocol_of(local), protocol_of(multi)) == ("single-shot", "single-shot", "multi-shot")
    assert (local.name, local.scope, local.description) == (f"{name}-local", "local", "test score; layer-wise density")
    assert multi.name == f"{name}-multishot" and multi.scorer == AbsScore()


def test_register_score_pruner_refuses_an_unknown_variant():
    with pytest.raises(ConfigError, match="unknown variant"):
        register_score_pruner(AbsScore, name="test-abs-bad-variant", variants=("global",))  # type: ignore[arg-type]
    assert "test-abs-bad-variant" not in PRUNERS


def test_mypy_rejects_a_pruner_whose_prune_breaks_the_contract(tmp_path, monkeypatch):
    api = pytest.importorskip("mypy.api")
    user = tmp_path / "user_pruner.py"
    user.write_text(textwrap.dedent("""
        from plantseek.prune.contract import Pruner

        class NoKeywords:
            name = "no-keywords"

            def prune(self, model: object, data: object, density: float) -> dict[str, object]:
                return {}

        wrong: Pruner = NoKeywords()
    """))
    monkeypatch.chdir(ROOT)  # the repository's plantseek and mypy configuration (and its cache)
    out, err, status = api.run([str(user), "--config-file", str(ROOT / "pyproject.toml")])
    assert status == 1, out + err
    assert 'Incompatible types in assignment (expression has type "NoKeywords", variable has type "Pruner")' in out
    assert out.count("error:") == 1, out
