"""Plug-ins: packaging of the built-ins, third-party entry points, no shadowing by the working directory,
re-discovery after the first lookup, and one-line errors for plug-ins that fail to load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plantseek.core.errors import ConfigError
from plantseek.core.plugins import PluginFamily
from plantseek.core.registry import Registry

ROOT = Path(__file__).resolve().parents[2]

TOY_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "plantseek-toy-pruner"
version = "0.1"

[project.entry-points."plantseek.pruners"]
toy-magnitude = "toy_pruner:ToyMagnitude"

[tool.setuptools]
py-modules = ["toy_pruner"]
"""

TOY_MODULE = '''\
"""A third-party pruner: largest |w|, the same scores as the built-in magnitude pruner."""
from dataclasses import dataclass

from plantseek.prune.schedules import ScorePruner


@dataclass
class ToyMagnitude(ScorePruner):
    name: str = "toy-magnitude"
    description: str = "toy plug-in: largest |w|"

    def score(self, model, data, *, generator, budget, mask):
        return {n: p.detach().abs() for n, p in model.prunable().items()}
'''


@pytest.fixture(autouse=True)
def third_party_plugins(monkeypatch):
    """These tests install plug-ins: let discovery see entry points (tests/conftest.py turns them off)."""
    monkeypatch.delenv("PLANTSEEK_PLUGINS", raising=False)


def write_distribution(site: Path, dist: str, group: str, entry_points: dict[str, str], modules: dict[str, str]):
    """An installed distribution written by hand (metadata and modules), as an installer would leave it."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


def plantseek(*args: str, cwd: Path, extra_path: list[Path] = ()) -> subprocess.CompletedProcess:
    """``python -m plantseek ARGS`` in ``cwd``, with ``extra_path`` ahead of this checkout on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH", "")
    path = [str(p) for p in extra_path] + [str(ROOT)] + ([inherited] if inherited else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run([sys.executable, "-m", "plantseek", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def listed_names(stdout: str, section: str) -> set[str]:
    """The names ``list`` prints under ``section:`` (indented lines up to the next section)."""
    names, current = set(), None
    for line in stdout.splitlines():
        if not line.startswith(" "):
            current = line.rstrip(":")
        elif current == section:
            names.add(line.split()[0])
    return names


def test_pyproject_installs_every_subpackage_and_the_plugins_inside_plantseek():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {"plantseek"} | {"plantseek." + ".".join(p.parent.relative_to(ROOT / "plantseek").parts)
                               for p in (ROOT / "plantseek").glob("*/**/__init__.py")}
    assert set(config["packages"]) == on_disk | {"plantseek.tasks", "plantseek.baselines"}
    assert config["package-dir"] == {"plantseek.tasks": "tasks", "plantseek.baselines": "baselines"}


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory) -> Path:
    """The two-file toy distribution, installed with pip into a folder of its own."""
    pytest.importorskip("setuptools", minversion="64")
    src, site = tmp_path_factory.mktemp("toy_src"), tmp_path_factory.mktemp("toy_site")
    (src / "pyproject.toml").write_text(TOY_PYPROJECT)
    (src / "toy_pruner.py").write_text(TOY_MODULE)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return site


def test_installed_plugin_pruner_is_listed_and_runs_like_its_builtin_twin(toy_site, tmp_path):
    listing = plantseek("list", cwd=tmp_path, extra_path=[toy_site])
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr
    assert {"toy-magnitude", "magnitude", "snip"} <= listed_names(listing.stdout, "pruners")

    r = plantseek("evaluate", "--suite", "smoke", "--pruners", "toy-magnitude,magnitude", "--no-store", "--json",
                  "--jobs", "1", cwd=tmp_path, extra_path=[toy_site])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 8 and all(row["status"] == "ok" for row in rows)
    metrics = ("strong_metric", "weak_metric", "achieved_density", "recall", "precision")
    by_pruner = {p: {(row["task"], row["seed"], row["density"]): tuple(row[m] for m in metrics)
                     for row in rows if row["pruner"] == p} for p in ("toy-magnitude", "magnitude")}
    assert len(by_pruner["toy-magnitude"]) == 4 and by_pruner["toy-magnitude"] == by_pruner["magnitude"]


def test_tasks_and_baselines_in_the_working_directory_do_not_shadow_the_builtins(tmp_path):
    (tmp_path / "tasks.py").write_text("raise RuntimeError('the bogus tasks.py was imported')\n")
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "__init__.py").write_text("raise RuntimeError('the bogus baselines/ was imported')\n")
    r = plantseek("list", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert {"circle", "relu", "helix", "bars"} <= listed_names(r.stdout, "tasks")  # the built-ins, nothing bogus
    assert {"random", "magnitude", "snip", "grasp", "synflow", "edge-popup"} <= listed_names(r.stdout, "pruners")


def test_plugin_that_fails_to_load_is_one_line_and_hides_nothing(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "broken-plugin", "plantseek.pruners", {"broken": "broken_pruner:Broken"},
                       {"broken_pruner": "import plantseek_no_such_module\n"})
    write_distribution(site, "fine-plugin", "plantseek.pruners", {"fine": "fine_pruner:Fine"}, {"fine_pruner": """
        class Fine:
            name = "fine"
            def prune(self, model, data, density, *, generator, budget):
                raise NotImplementedError
    """})
    r = plantseek("list", cwd=tmp_path, extra_path=[site])
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "plantseek: warning: pruner plug-in 'broken' (broken_pruner:Broken, distribution broken-plugin 1.0) "
        "failed to load: ModuleNotFoundError: No module named 'plantseek_no_such_module'"]
    assert {"fine", "magnitude", "snip"} <= listed_names(r.stdout, "pruners")
    assert "broken" not in listed_names(r.stdout, "pruners")

    r = plantseek("evaluate", "--suite", "smoke", "--pruners", "broken", "--no-store", cwd=tmp_path, extra_path=[site])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "plantseek: error: pruner plug-in 'broken' (broken_pruner:Broken, distribution broken-plugin 1.0) "
        "failed to load: ModuleNotFoundError: No module named 'plantseek_no_such_module'"]


def fresh_registry(group: str) -> Registry:
    return Registry("pruner", PluginFamily(kind="pruner", package="plantseek.baselines", group=group,
                                           accepts=callable, expected="a zero-argument pruner factory"))


def test_plugin_installed_after_the_first_lookup_is_found(tmp_path, monkeypatch):
    group = "plantseek-test.late-pruners"
    late_site, on_path_site = tmp_path / "late", tmp_path / "on_path"
    on_path_site.mkdir()
    monkeypatch.syspath_prepend(str(on_path_site))
    registry = fresh_registry(group)
    assert registry.names() == []
    with pytest.raises(ConfigError, match="unknown pruner 'late'"):
        registry.get("late")

    # a new folder put on sys.path: found by the next lookup that misses
    write_distribution(late_site, "late-plugin", group, {"late": "late_pruner:Late"},
                       {"late_pruner": "class Late:\n    name = 'late'\n"})
    monkeypatch.syspath_prepend(str(late_site))
    assert registry.get("late").__name__ == "Late"

    # a distribution installed into a folder already on sys.path: found by the next listing; its entry point
    # names a module, which registers itself
    global LATE_REGISTRY
    LATE_REGISTRY = registry
    write_distribution(on_path_site, "later-plugin", group, {"later-module": "later_pruner"}, {"later_pruner": f"""
        import sys
        sys.modules[{__name__!r}].LATE_REGISTRY.register("later", object)
    """})
    assert registry.names() == ["late", "later"]


def test_object_entry_point_must_be_of_the_expected_kind(tmp_path, monkeypatch):
    group = "plantseek-test.wrong-kind"
    write_distribution(tmp_path, "wrong-kind", group, {"number": "wrong_kind:NUMBER"}, {"wrong_kind": "NUMBER = 3\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = fresh_registry(group)
    assert registry.names() == []
    with pytest.raises(ConfigError) as info:
        registry.get("number")
    assert str(info.value) == ("pruner plug-in 'number' (wrong_kind:NUMBER, distribution wrong-kind 1.0) failed to "
                               "load: it names 3, which is neither a module nor a zero-argument pruner factory")


def test_builtin_only_hides_installed_plugins(tmp_path, monkeypatch):
    group = "plantseek-test.builtin-only"
    write_distribution(tmp_path, "hidden-plugin", group, {"hidden": "hidden_pruner:Hidden"},
                       {"hidden_pruner": "class Hidden:\n    name = 'hidden'\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PLANTSEEK_PLUGINS", "builtin")
    assert fresh_registry(group).names() == []
    monkeypatch.delenv("PLANTSEEK_PLUGINS")
    assert fresh_registry(group).names() == ["hidden"]


def test_a_plugin_has_one_name(tmp_path, monkeypatch):
    group = "plantseek-test.two-names"
    write_distribution(tmp_path, "two-names", group, {"listed": "two_names:Declared"},
                       {"two_names": "class Declared:\n    name = 'declared'\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = fresh_registry(group)
    assert registry.names() == []
    with pytest.raises(ConfigError) as info:
        registry.get("listed")
    assert str(info.value) == ("pruner plug-in 'listed' (two_names:Declared, distribution two-names 1.0) failed to "
                               "load: its class declares name 'declared' but its entry point is 'listed': give both "
                               "the same name")
