"""The pruner contract, the pruner registry, and loading pruners from files.

A pruner is any object with a ``name`` and a method (:class:`Pruner`, the typed statement of this contract)::

    prune(self, model, data, density, *, generator, budget) -> dict[str, torch.BoolTensor]

* ``model``: a fresh copy of the host at its initial weights (``plantseek.families.mlp.network.MLP``,
  float32); its prunable parameters are ``model.prunable()`` (the weights, named ``layers.{l}.weight``);
* ``data``: :class:`plantseek.planted.instance.PrunerData`, the training split (``x``, ``y``) and the task's ``loss``;
* ``density``: fraction of prunable weights to keep, in (0, 1];
* ``generator``: a seeded ``torch.Generator`` (use it for every random draw);
* ``budget``: a :class:`plantseek.train.loop.TrainConfig`, the training allowance for pruners that train, and the
  pruning scope: ``budget.prunable_biases`` (the paper protocol's cells) makes the biases prunable parameters.

It returns a boolean mask for every prunable weight keeping exactly ``plantseek.nets.masks.kept_count(density, n)``
weights. With ``budget.prunable_biases`` the mask has an entry for every bias too (``model.arch.bias_shapes()``),
and exactly ``kept_count(density, weights + biases)`` weights and biases are kept in total
(:func:`plantseek.nets.masks.validate_pruned_mask`; :func:`plantseek.prune.schedules.prunable_parameters` lists
what is prunable). The ground truth is not reachable from any argument. Optional attributes: ``protocol`` (one of
``single-shot``, ``multi-shot``, ``strong``, ``post-training``; default ``single-shot``), ``description``,
``tags`` (a frozenset
of non-empty strings saying what the pruner is, default empty; e.g. ``paper`` for the paper's methods,
``iterative`` for an iterative data-free schedule, ``local`` for a layer-wise variant; the suites select their
pruners by protocol and tags) and ``rank`` (an int, default 0: order among pruners of one protocol in a suite,
lower first, then by name).

Post-training cells (``CellConfig.calibration_size > 0``) hand every pruner the densely TRAINED host instead and, as
``data``, a calibration set drawn from the training split; there a pruner may return a
:class:`plantseek.prune.posttraining.PostTrainingResult` (the mask and updated weights) instead of a bare mask. A
``post-training`` pruner runs in post-training cells only (:mod:`plantseek.prune.posttraining`).

Built-in pruners live one per file in ``plantseek.baselines`` (the repository's ``baselines/``) and register
with ``@PRUNERS.register("name")`` on a zero-argument factory (usually the class). Third-party pruners are entry
points of the group ``plantseek.pruners``: a module that registers itself so, or a factory registered under the
entry point's name (see :mod:`plantseek.core.plugins`). Any other file can be run as ``path/to/file.py:ClassName``.
:func:`declared` wraps a factory so that its pruners carry their ``tags`` and ``rank``;
:func:`plantseek.prune.variants.register_score_pruner` registers a score-based pruner and its variants in one call.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, TypeVar, cast, overload, runtime_checkable

from plantseek.core.errors import PrunerError
from plantseek.core.plugins import PluginFamily
from plantseek.core.registry import Registry

if TYPE_CHECKING:
    import torch

    from plantseek.nets.interface import Host
    from plantseek.nets.masks import Mask
    from plantseek.planted.instance import PrunerData
    from plantseek.train.config import TrainConfig


@runtime_checkable
class Pruner(Protocol):
    """The pruner contract of the module docstring, typed. ``protocol``, ``description``, ``tags`` and ``rank`` are
    optional (read with :func:`protocol_of`, :func:`tags_of`, :func:`rank_of`), so they are not members here;
    ``isinstance(obj, Pruner)`` checks ``name`` and ``prune`` only (:func:`check_pruner` checks the rest)."""

    name: str

    def prune(self, model: Host, data: PrunerData, density: float, *, generator: torch.Generator,
              budget: TrainConfig) -> Mask: ...


P = TypeVar("P", bound=Pruner)

PRUNERS: Registry[Callable[[], Pruner]] = Registry("pruner", PluginFamily(
    kind="pruner", package="plantseek.baselines", group="plantseek.pruners", accepts=callable,
    expected="a zero-argument pruner factory (e.g. a pruner class)"))
PROTOCOLS = ("single-shot", "multi-shot", "strong", "post-training")


def protocol_of(pruner: object) -> str:
    protocol: str = getattr(pruner, "protocol", "single-shot")
    return protocol


def tags_of(pruner: object) -> frozenset[str]:
    return frozenset(getattr(pruner, "tags", frozenset()))


def rank_of(pruner: object) -> int:
    rank: int = getattr(pruner, "rank", 0)
    return rank


@overload
def declared(factory: Callable[[], P], *, tags: Iterable[str] = (), rank: int = 0) -> Callable[[], P]: ...


@overload
def declared(*, tags: Iterable[str] = (), rank: int = 0) -> Callable[[Callable[[], P]], Callable[[], P]]: ...


def declared(factory: Callable[[], P] | None = None, *, tags: Iterable[str] = (),
             rank: int = 0) -> Callable[[], P] | Callable[[Callable[[], P]], Callable[[], P]]:
    """A zero-argument factory making ``factory()``'s pruner with the attributes ``tags`` and ``rank`` set (so
    that variants built by one class, e.g. its layer-wise and multi-shot ones, can say what they are). Without
    ``factory``, a decorator doing the same."""
    frozen = frozenset(tags)

    def wrap(factory: Callable[[], P]) -> Callable[[], P]:
        def make() -> P:
            pruner = factory()
            setattr(pruner, "tags", frozen)
            setattr(pruner, "rank", rank)
            return pruner

        return make

    return wrap(factory) if factory is not None else wrap


def check_pruner(obj: Any, where: str) -> Pruner:
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        raise PrunerError(f"{where}: a pruner needs a non-empty string attribute 'name'")
    if not callable(getattr(obj, "prune", None)):
        raise PrunerError(f"{where}: a pruner needs a method prune(model, data, density, *, generator, budget)")
    params = inspect.signature(obj.prune).parameters
    for kw in ("generator", "budget"):
        if kw not in params and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            raise PrunerError(f"{where}: prune() must accept the keyword argument '{kw}'")
    if protocol_of(obj) not in PROTOCOLS:
        raise PrunerError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}, got {protocol_of(obj)!r}")
    tags: object = getattr(obj, "tags", frozenset())
    if not isinstance(tags, (set, frozenset)) or not all(isinstance(t, str) and t for t in tags):
        raise PrunerError(f"{where}: tags must be a frozenset of non-empty strings, got {tags!r}")
    if isinstance(rank_of(obj), bool) or not isinstance(rank_of(obj), int):
        raise PrunerError(f"{where}: rank must be an int, got {rank_of(obj)!r}")
    return cast(Pruner, obj)  # what the checks above established


def load_module_from_path(path: Path) -> ModuleType:
    name = "plantseek_user_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PrunerError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PrunerError(f"{path}: importing failed: {type(exc).__name__}: {exc}") from None
    return module


def pruner_from_file(ref: str) -> Pruner:
    """``path/to/file.py:ClassName``, or ``path/to/file.py`` if the file defines exactly one pruner class."""
    path_text, _, cls_name = ref.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise PrunerError(f"pruner file {path} does not exist")
    module = load_module_from_path(path)
    if cls_name:
        cls = getattr(module, cls_name, None)
        if cls is None:
            raise PrunerError(f"{path} defines no {cls_name!r}")
    else:
        found = [c for _, c in inspect.getmembers(module, inspect.isclass)
                 if c.__module__ == module.__name__ and callable(getattr(c, "prune", None))]
        if len(found) != 1:
            raise PrunerError(f"{path} defines {len(found)} pruner classes; name one as {path}:ClassName")
        cls = found[0]
    return constructed(cls, ref)


def constructed(factory: Callable[[], object], ref: str) -> Pruner:
    """The pruner ``factory()`` makes, checked against the contract; one line if constructing it fails."""
    try:
        pruner = factory()
    except Exception as exc:
        raise PrunerError(f"{ref}: constructing the pruner failed: {type(exc).__name__}: {exc}") from None
    return check_pruner(pruner, ref)


def is_file_ref(ref: str) -> bool:
    return ".py" in ref or "/" in ref


def get_pruner(ref: str) -> Pruner:
    """A pruner by registered name (built-in or plug-in) or by ``file.py[:Class]``."""
    if is_file_ref(ref):
        return pruner_from_file(ref)
    return constructed(PRUNERS.get(ref), ref)


def check_pruner_file(ref: str) -> None:
    """Check a ``path/to/file.py[:Class]`` reference WITHOUT running its code (the parent process never imports a
    submitted file; it is loaded inside a sandboxed prune worker only): the file exists and parses, and names one
    pruner class (the given one, or exactly one top-level class with a ``prune`` method). One-line PrunerError."""
    import ast

    path_text, _, cls_name = ref.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise PrunerError(f"pruner file {path} does not exist")
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as exc:
        raise PrunerError(f"{path}: not valid Python ({type(exc).__name__}: {exc})") from None
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    if cls_name:
        if cls_name not in classes:
            raise PrunerError(f"{path} defines no class {cls_name!r}")
        return
    pruners = [n for n, node in classes.items()
               if any(isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == "prune" for f in node.body)]
    if len(pruners) != 1:
        raise PrunerError(f"{path} defines {len(pruners)} pruner classes; name one as {path}:ClassName")
