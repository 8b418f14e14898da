"""Unknown names: a typo gets "did you mean", anything else the whole list."""

from __future__ import annotations

import pytest

from plantseek.core.errors import ConfigError
from plantseek.core.registry import Registry


@pytest.fixture
def registry():
    r: Registry[int] = Registry("pruner")
    for i, name in enumerate(("magnitude", "magnitude-local", "random", "snip", "synflow")):
        r.register(name, i)
    return r


def test_a_typo_gets_the_nearest_names(registry):
    with pytest.raises(ConfigError) as e:
        registry.get("magnitde")
    msg = str(e.value)
    assert msg.startswith("unknown pruner 'magnitde': did you mean 'magnitude'")
    assert "5 known" in msg and "synflow" not in msg and "\n" not in msg


def test_an_unrelated_name_gets_the_whole_list(registry):
    with pytest.raises(ConfigError, match=r"unknown pruner 'zzz' \(known: magnitude, magnitude-local, random, snip, "
                                          r"synflow\)"):
        registry.get("zzz")


def test_cli_suggests_for_tasks_and_suites(capsys):
    from plantseek.cli import main

    for argv, hint in ((["--tasks", "circel"], "did you mean 'circle'"), (["--suite", "defualt"], "'default'")):
        try:
            code = main(["evaluate", *argv, "--no-store"])
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and hint in err and len(err.strip().splitlines()) == 1
