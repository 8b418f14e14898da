"""Command-line options generated from the fields of configuration dataclasses, and their values applied back.

A field whose metadata has ``help`` is an option: ``--name-with-dashes`` (or its ``flag``), default None (keep
the configuration's value). Its value type: ``range=(lo, hi)`` a bounded number (:func:`~.arguments.integer` for
int bounds, else :func:`~.arguments.number`), ``choices`` one of them, ``parse`` a list type of
:mod:`plantseek.cli.arguments` by name (``names``, ``seeds``, ``densities``). ``key`` makes it set one key of a
dict field (``--noise`` sets ``task_options["noise"]``). A dataclass-valued field with ``nested`` (True, or the
names of some fields) takes the options of its own class::

    epochs: int = field(default=10, metadata={"help": "weak-training epochs", "range": (0, MAX_EPOCHS)})

:func:`add_options` adds a class's options to a parser, each flag once; :func:`overrides` reads the parsed values
back as ``{field: value}`` for one configuration (nested ones rebuilt with :func:`dataclasses.replace`, so their
``__post_init__`` validates: a ConfigError, one line and exit 2).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterator

from . import arguments

LIST_TYPES = {"names": arguments.names, "seeds": arguments.seeds, "densities": arguments.densities}


def option_fields(cls: type) -> Iterator[tuple[type, dataclasses.Field]]:
    """``(class, field)`` for every option of ``cls``, nested classes' options in place of their field, in field
    order (a class nested twice, e.g. ``train`` and ``budget``, comes once per field: :func:`add_options` dedups)."""
    for f in dataclasses.fields(cls):
        nested = f.metadata.get("nested")
        if nested:
            inner = type(f.default if f.default is not dataclasses.MISSING else f.default_factory())
            yield from ((c, g) for c, g in option_fields(inner) if nested is True or g.name in nested)
        elif "help" in f.metadata:
            yield cls, f


def flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def dest(f: dataclasses.Field) -> str:
    """The attribute of the parsed arguments that holds ``f``'s option (argparse's name for its flag)."""
    return flag(f)[2:].replace("-", "_")


def option_kwargs(f: dataclasses.Field) -> dict[str, Any]:
    """The :meth:`argparse.ArgumentParser.add_argument` keywords of one field's option."""
    meta = f.metadata
    kwargs: dict[str, Any] = {"default": None, "help": meta["help"]}
    if "range" in meta:
        lo, hi = meta["range"]
        ints = isinstance(lo, int) and isinstance(hi, int)
        kwargs["type"] = arguments.integer(lo, hi) if ints else arguments.number(lo, hi)
    elif "choices" in meta:
        kwargs["choices"] = tuple(meta["choices"])
    elif "parse" in meta:
        kwargs["type"] = LIST_TYPES[meta["parse"]]
    return kwargs


def add_options(parser: argparse.ArgumentParser, *classes: type) -> None:
    """Add the options of ``classes`` (their fields with ``help`` metadata, nested ones included), each flag once."""
    seen: dict[str, dataclasses.Field] = {}
    for cls in classes:
        for _, f in option_fields(cls):
            name = flag(f)
            if name in seen:
                if seen[name] is not f:
                    raise TypeError(f"two configuration fields claim the option {name}: {seen[name].name}, {f.name}")
                continue
            seen[name] = f
            parser.add_argument(name, **option_kwargs(f))


def overrides(config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``config`` (a dataclass instance) that the parsed ``args`` change, as ``{field: new value}``;
    options left out change nothing. A nested configuration is replaced only when its value changes."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        nested = f.metadata.get("nested")
        if nested:
            inner = getattr(config, f.name)
            changes = {k: v for k, v in overrides(inner, args).items() if nested is True or k in nested}
            new = dataclasses.replace(inner, **changes)
            if new != inner:
                out[f.name] = new
        elif "help" in f.metadata and getattr(args, dest(f), None) is not None:
            value = getattr(args, dest(f))
            key = f.metadata.get("key")
            out[f.name] = {**getattr(config, f.name), key: value} if key else value
    return out
