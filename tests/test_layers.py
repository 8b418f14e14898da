"""The layer rule: plantseek's packages form a house, and no import runs upward.

Every module of the engine (and of the in-tree plug-ins, installed as ``plantseek.tasks`` and
``plantseek.baselines``) belongs to one layer of :data:`LAYERS`, listed from the bottom up. A module may import
modules of its own package and of any lower layer. Packages that share a layer are independent: neither imports
the other. Imports inside functions count, like at the top of a module.

A host family (``plantseek/families/<name>/``) is a vertical slice: each of its modules belongs to the stage its file
name says (:data:`FAMILY_STAGES`: ``network`` is a module of ``nets``, ``planting`` of ``planted``, ...), and counts
as a module of that stage's package; a family module whose name maps to no stage is reported. The families'
``__init__`` modules and ``plantseek.families.registry`` are core-level. Families are independent of each other: no
module of one family imports a module of another. ``docs/design/layers.md`` explains the
house; this file is the rule CI checks.
"""

from __future__ import annotations

from pathlib import Path

from test_layout import ROOT, imported_modules, module_files

#: The layers, bottom first. Each entry is a tuple of the packages (under ``plantseek.``) of one layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),  # errors, types, seeding, registries, limits, paths: no torch, no other package
    ("nets",),  # the network interface, masks and their validation, the host architectures
    ("planted",),  # tasks, targets, planting, instances, leak audit
    ("train",),  # training configurations and engines
    ("prune",),  # the pruner contract and the pruning machinery baselines build on
    ("score",),  # strong and weak evaluation, recovery metrics
    ("tasks", "baselines"),  # the in-tree plug-ins (tasks/ and baselines/ at the repository top)
    ("records",),  # what a cell is and what it produced
    ("store",),  # the results store
    ("run",),  # suites, grids, cell groups, prune-worker isolation, executors
    ("frame",),  # the prepared results frame (torch-free)
    ("stats",),  # statistics over the prepared frame
    ("report", "repro", "optimum"),  # pages and plots; the paper-reproduction report; the sparsest-mask search
    ("perf",),  # benchmarks
    ("cli",),  # the command line
)
TOP = "plantseek"  # plantseek/__init__.py and __main__.py sit above every layer
#: The stage (first-level package) a host family's module belongs to, by its file name.
FAMILY_STAGES: dict[str, str] = {
    "network": "nets",
    "planting": "planted", "task": "planted", "audit": "planted", "scales": "planted",
    "training": "train",
    "metrics": "score",
    "report": "report", "plots": "report",
}
FAMILIES = "families"  # plantseek.families: the host-family folders, each module in the layer its name says


def shipped_modules() -> dict[str, Path]:
    """``{dotted name: file}`` of every shipped module, the plug-in folders under their installed names."""
    out = dict(module_files(ROOT / "plantseek"))
    for folder in ("tasks", "baselines"):
        for name, path in module_files(ROOT / folder).items():
            out[f"plantseek.{name}"] = path
    return out


def package_of(module: str) -> str:
    """The first-level package of a module (``plantseek.run.group`` -> ``run``); :data:`TOP` for the top. A host
    family's module counts as one of its stage (``plantseek.families.conv.planting`` -> ``planted``); the families'
    ``__init__`` modules and registry as core; a family module of no stage as ``families.<file name>``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == FAMILIES:
        if len(parts) <= 3 or parts[2] == "registry":
            return "core"
        return FAMILY_STAGES.get(parts[3], f"{FAMILIES}.{parts[3]}")
    return parts[1] if len(parts) > 1 and parts[1] != "__main__" else TOP


def family_of(module: str) -> str | None:
    """The host family whose folder holds ``module`` (``plantseek.families.conv.task`` -> ``conv``), else None."""
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == FAMILIES else None


def layer_index(layers: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    """``{package: its layer's position}`` (0 = bottom); :data:`TOP` above all."""
    index = {pkg: i for i, layer in enumerate(layers) for pkg in layer}
    index[TOP] = len(layers)
    return index


def layer_violations(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """Every import of ``graph`` (``{module: imported modules}``) that breaks the rule, one line each: an import of
    a higher layer, an import between two packages of one layer, or a module of a package no layer names."""
    index = layer_index(layers)
    out = []
    for module in sorted(graph):
        src = package_of(module)
        if src not in index:
            out.append(f"{module}: package {src!r} is in no layer")
            continue
        for target in sorted(graph[module]):
            dst = package_of(target)
            mine, theirs = family_of(module), family_of(target)
            if mine and theirs and mine != theirs:
                out.append(f"{module} imports {target}: host families {mine} and {theirs} must be independent")
                continue
            if dst == src or dst not in index:
                continue
            if index[dst] > index[src]:
                out.append(f"{module} imports {target}: {src} (layer {index[src]}) is below {dst} "
                           f"(layer {index[dst]})")
            elif index[dst] == index[src]:
                out.append(f"{module} imports {target}: {src} and {dst} share a layer and must be independent")
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_no_import_runs_upward_between_plantseek_packages():
    assert layer_violations(import_graph(shipped_modules())) == []


def test_every_package_is_in_exactly_one_layer():
    named = [pkg for layer in LAYERS for pkg in layer]
    assert len(named) == len(set(named))
    packages = {p.name for p in (ROOT / "plantseek").iterdir() if (p / "__init__.py").exists()}
    assert packages - {FAMILIES} | {"tasks", "baselines"} == set(named)


def test_every_family_module_belongs_to_a_stage():
    modules = [m for m in shipped_modules() if family_of(m) and not m.endswith(".__init__")]
    assert modules and all(package_of(m) in layer_index(LAYERS) for m in modules)
    assert package_of("plantseek.families.attention.plots") == "report"
    assert package_of("plantseek.families.registry") == package_of("plantseek.families.conv") == "core"


def _copy_tree(tmp_path: Path) -> dict[str, Path]:
    """A copy of every shipped module under ``tmp_path``, keyed like :func:`shipped_modules`."""
    out = {}
    for name, path in shipped_modules().items():
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        out[name] = copy
    return out


def test_the_rule_fails_on_an_inserted_upward_import(tmp_path):
    modules = _copy_tree(tmp_path)
    assert layer_violations(import_graph(modules)) == []
    masks = modules["plantseek.nets.masks"]
    # an upward import hidden inside a function, as the three old package cycles were
    masks.write_text(masks.read_text(encoding="utf-8") + "\n\ndef _late():\n    from plantseek.store import results\n")
    assert layer_violations(import_graph(modules)) == [  # the package's __init__ runs too, so both count
        "plantseek.nets.masks imports plantseek.store: nets (layer 1) is below store (layer 8)",
        "plantseek.nets.masks imports plantseek.store.results: nets (layer 1) is below store (layer 8)"]


def test_the_rule_fails_on_an_import_between_packages_of_one_layer(tmp_path):
    modules = _copy_tree(tmp_path)
    report = modules["plantseek.repro.report"]
    report.write_text("import plantseek.report.page\n" + report.read_text(encoding="utf-8"))
    assert layer_violations(import_graph(modules)) == [
        "plantseek.repro.report imports plantseek.report.page: repro and report share a layer and must be "
        "independent"]


def test_a_package_outside_every_layer_is_named():
    graph = {"plantseek.newstage.x": {"plantseek.core.errors"}, "plantseek.core.errors": set()}
    assert layer_violations(graph) == ["plantseek.newstage.x: package 'newstage' is in no layer"]


def test_the_rule_fails_on_an_upward_import_inside_a_family_folder(tmp_path):
    modules = _copy_tree(tmp_path)
    network = modules["plantseek.families.attention.network"]  # nets: may not import its own family's planting
    network.write_text(network.read_text(encoding="utf-8") + "\n\ndef _late():\n"
                       "    from plantseek.families.attention import planting\n")
    assert layer_violations(import_graph(modules)) == [
        "plantseek.families.attention.network imports plantseek.families.attention.planting: nets (layer 1) is "
        "below planted (layer 2)"]


def test_the_rule_fails_on_an_import_between_families(tmp_path):
    modules = _copy_tree(tmp_path)
    task = modules["plantseek.families.conv.task"]
    task.write_text("import plantseek.families.mlp.planting\n" + task.read_text(encoding="utf-8"))
    assert layer_violations(import_graph(modules)) == [
        "plantseek.families.conv.task imports plantseek.families.mlp.planting: host families conv and mlp must be "
        "independent"]


def test_a_family_module_of_no_stage_is_named():
    graph = {"plantseek.families.toy.helpers": {"plantseek.core.errors"}, "plantseek.core.errors": set()}
    assert layer_violations(graph) == ["plantseek.families.toy.helpers: package 'families.helpers' is in no layer"]
