"""`--config run.toml`: options from a TOML file, parsed exactly as on the command line, which wins."""

from __future__ import annotations

import pytest

from plantseek.cli import validate
from plantseek.core.errors import PlantseekError

TOML = """\
suite = "smoke"
tasks = ["relu", "circle"]
densities = [0.1, "ticket"]
seeds = "0-2"
n_samples = 100
max-batch = 4
no-store = true
json = false
"""


def _args(argv):
    args = vars(validate(argv))
    return {k: v for k, v in args.items() if not k.startswith("_") and k != "config"}


def test_a_file_means_the_same_as_its_options(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(TOML)
    typed = ["evaluate", "--suite", "smoke", "--tasks", "relu,circle", "--densities", "0.1,ticket", "--seeds", "0-2",
             "--n-samples", "100", "--max-batch", "4", "--no-store"]
    assert _args(["evaluate", "--config", str(path)]) == _args(typed)


def test_the_command_line_wins(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(TOML)
    args = _args(["evaluate", "--seeds", "5", "--config", str(path), "--max-batch", "8"])
    assert args["seeds"] == [5]  # typed before --config: still the command line's
    assert args["max_batch"] == 8 and args["n_samples"] == 100


@pytest.mark.parametrize("text, message", [
    ("foo = 1\n", "unknown option 'foo' (known: "),
    ("epochs = [\n", "not a valid TOML file"),
    ("no-store = 1\n", "no-store is a flag: true or false, got 1"),
    ("seeds = {from = 0}\n", "seeds takes a value, not dict"),
    ("tasks = []\n", "tasks must be a non-empty list"),
])
def test_bad_files_are_one_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PlantseekError) as e:
        validate(["evaluate", "--config", str(path)])
    assert message in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_bad_values_are_refused_as_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text("epochs = -3\n")
    with pytest.raises(SystemExit) as e:
        validate(["evaluate", "--config", str(path)])
    assert e.value.code == 2 and "argument --epochs: must be an integer >= 0" in capsys.readouterr().err


def test_submit_takes_a_config_too(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('suite = "smoke"\njobs = 1\n')
    args = validate(["submit", "examples/my_pruner.py", "--config", str(path), "--check-only"])
    assert args.suite == "smoke" and args.jobs == 1
