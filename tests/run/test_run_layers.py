"""The layer rule inside ``plantseek.run``: its three parts form a small house, and no import runs upward.

Bottom first (:data:`RUN_LAYERS`): prune-worker isolation (``run.isolation``) imports no other part of ``run``;
the executors (``run.executors``) may import isolation, and only for ``isolation.sandbox.die_with_parent`` (their
pool workers die with their parent, like the prune workers); the conductor (``run``'s own modules: suites, grid,
group, bundle, ablations, recheck, submit) imports both. Imports inside functions count. The package-level rule
(``tests/test_layers.py``) governs imports between ``run`` and the other packages; its helpers are reused here.
"""

from __future__ import annotations

from test_layers import _copy_tree, import_graph, layer_index, shipped_modules
from test_layout import ROOT

#: The parts of plantseek.run, bottom first; "conductor" is every module of run outside its sub-packages.
RUN_LAYERS: tuple[tuple[str, ...], ...] = (("isolation",), ("executors",), ("conductor",))
SUBPACKAGES = ("isolation", "executors")


def run_part(module: str) -> str | None:
    """The part of ``plantseek.run`` a module belongs to (``plantseek.run.isolation.workers`` -> ``isolation``,
    ``plantseek.run.grid`` -> ``conductor``); None outside ``plantseek.run``."""
    parts = module.split(".")
    if parts[:2] != ["plantseek", "run"]:
        return None
    return parts[2] if len(parts) > 2 and parts[2] in SUBPACKAGES else "conductor"


def run_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = RUN_LAYERS) -> list[str]:
    """Every import between two parts of ``plantseek.run`` in ``graph`` that breaks the rule, one line each."""
    index = layer_index(layers)
    out = []
    for module in sorted(graph):
        src = run_part(module)
        if src is None:
            continue
        for target in sorted(graph[module]):
            dst = run_part(target)
            if dst is None or dst == src:
                continue
            if index[dst] > index[src]:
                out.append(f"{module} imports {target}: run.{src} (layer {index[src]}) is below run.{dst} "
                           f"(layer {index[dst]})")
            elif index[dst] == index[src]:
                out.append(f"{module} imports {target}: run.{src} and run.{dst} share a layer and must be "
                           "independent")
    return out


def test_no_import_runs_upward_between_the_parts_of_run():
    assert run_violations(import_graph(shipped_modules())) == []


def test_the_subpackages_of_run_are_the_named_parts():
    on_disk = {p.name for p in (ROOT / "plantseek" / "run").iterdir() if (p / "__init__.py").exists()}
    assert on_disk == set(SUBPACKAGES)
    named = [part for layer in RUN_LAYERS for part in layer]
    assert sorted(named) == sorted([*SUBPACKAGES, "conductor"])


def test_isolation_and_executors_import_no_conductor_module():
    graph = import_graph(shipped_modules())
    for module, targets in graph.items():
        if run_part(module) in SUBPACKAGES:
            assert not any(run_part(t) == "conductor" for t in targets), module


def _append(path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + code, encoding="utf-8")


def test_the_rule_fails_on_an_inserted_import_of_the_conductor(tmp_path):
    modules = _copy_tree(tmp_path)
    assert run_violations(import_graph(modules)) == []
    # hidden inside a function, as a lazy import would be
    late = "\n\ndef _late():\n    from plantseek.run.{}\n"
    _append(modules["plantseek.run.isolation.pruning"], late.format("group import Planted"))
    _append(modules["plantseek.run.executors.local"], late.format("grid import expand"))
    assert run_violations(import_graph(modules)) == [
        "plantseek.run.executors.local imports plantseek.run.grid: run.executors (layer 1) is below run.conductor "
        "(layer 2)",
        "plantseek.run.isolation.pruning imports plantseek.run.group: run.isolation (layer 0) is below "
        "run.conductor (layer 2)"]


def test_the_rule_fails_when_isolation_imports_the_executors(tmp_path):
    modules = _copy_tree(tmp_path)
    sandbox = modules["plantseek.run.isolation.sandbox"]
    sandbox.write_text("import plantseek.run.executors.dask\n" + sandbox.read_text(encoding="utf-8"),
                       encoding="utf-8")
    assert run_violations(import_graph(modules)) == [
        "plantseek.run.isolation.sandbox imports plantseek.run.executors.dask: run.isolation (layer 0) is below "
        "run.executors (layer 1)"]


def test_parts_sharing_a_layer_must_be_independent():
    graph = {"plantseek.run.isolation.workers": {"plantseek.run.executors.local"},
             "plantseek.run.executors.local": {"plantseek.run.isolation.sandbox"}}
    flat = (("isolation", "executors"), ("conductor",))
    assert run_violations(graph, flat) == [
        "plantseek.run.executors.local imports plantseek.run.isolation.sandbox: run.executors and run.isolation "
        "share a layer and must be independent",
        "plantseek.run.isolation.workers imports plantseek.run.executors.local: run.isolation and run.executors "
        "share a layer and must be independent"]
