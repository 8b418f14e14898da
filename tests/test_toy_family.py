"""Adding a host family touches only its folder: a toy family written into a temporary folder, registered the way a
third-party family is (an entry point of the group ``plantseek.families``), runs through plant -> prune -> train ->
score -> store -> prepared frame, with its hook called and its name stored in each cell's ``family`` column."""

from __future__ import annotations

import importlib
import sys

import pytest

from plantseek.families.registry import FAMILIES, family_order
from plantseek.frame.prepared import prepared
from plantseek.planted.task import TASKS
from plantseek.run.bundle import run_group
from plantseek.run.grid import expand
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore, load_results

FOLDER = {
    "__init__.py": ('from plantseek.families.registry import HostFamily\n'
                    'FAMILY = HostFamily("toy", order=9, recovery="toy_family.metrics:kept_weights")\n'),
    "metrics.py": ("def kept_weights(mask, ticket, arch):\n"
                   "    return {'toy_kept_weights': float(sum(int(m.sum()) for m in mask.values()))}\n"),
    "task.py": ("from plantseek.planted.task import TASKS\n"
                "from plantseek.tasks.relu import ReLUTask\n\n\n"
                "@TASKS.register('toy-relu')\n"
                "class ToyTask(ReLUTask):\n"
                "    name = 'toy-relu'\n"
                "    family = 'toy'\n"),
}


@pytest.fixture(autouse=True)
def third_party_plugins(monkeypatch):
    """These tests install plug-ins: let discovery see entry points (tests/conftest.py turns them off)."""
    monkeypatch.delenv("PLANTSEEK_PLUGINS", raising=False)


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    folder = tmp_path / "toy_family"
    folder.mkdir()
    for name, text in FOLDER.items():
        (folder / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    info = tmp_path / "toy_family-1.0.dist-info"  # installed as an installer would leave it: metadata + entry point
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-family\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[plantseek.families]\ntoy = toy_family\n")
    importlib.invalidate_caches()
    FAMILIES.discovery.refresh(FAMILIES, force=True)
    importlib.import_module("toy_family.task")
    yield
    FAMILIES.unregister("toy")
    TASKS.unregister("toy-relu")
    for name in [m for m in sys.modules if m == "toy_family" or m.startswith("toy_family.")]:
        del sys.modules[name]


def test_a_toy_family_runs_end_to_end_from_its_own_folder(toy_family, tmp_path):
    assert "toy" in FAMILIES and FAMILIES.get("toy").order == 9
    suite = SUITES.get("smoke").with_overrides(tasks=["toy-relu"], pruners=["random", "magnitude"],
                                               densities=["0.1"])
    cells = expand(suite)
    results = run_group(cells)
    assert [r.status for _, r in results] == ["ok", "ok"]
    for cell, result in results:
        assert result.family == "toy"
        # the family's recovery hook ran on the cell's mask: smoke's host (depth 4, width 20, 1 -> 1) has
        # 20 + 400 + 20 = 440 weights, and density 0.1 keeps round(44.0) of them
        assert result.metrics["toy_kept_weights"] == 44.0
    store = ResultStore(tmp_path / "toy.db")
    for cell, result in results:
        store.put(cell, result)
    frame = prepared(load_results(tmp_path / "toy.db"))
    assert set(frame["family"]) == {"toy"}
    assert family_order(["toy", "attention", "MLP", "conv"]) == ["MLP", "conv", "attention", "toy"]
