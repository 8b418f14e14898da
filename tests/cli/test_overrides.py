"""The override options generated from the configuration dataclasses (``plantseek.cli.overrides``): one option per
field with ``help`` metadata and none without, invalid values rejected in one line, and the cells they make
unchanged (cell ids pinned from before the options were generated)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field

import pytest

from plantseek.cli import _Parser, build_parser, main, validate
from plantseek.cli.evaluate import build_suite
from plantseek.cli.overrides import add_options, flag, option_fields, overrides
from plantseek.core.errors import ConfigError
from plantseek.records.cells import CellConfig
from plantseek.run.grid import expand
from plantseek.run.suites import SUITES, Suite
from plantseek.train.config import TrainConfig
from plantseek.train.engine import ENGINE_VARIABLE, FIRST_ENGINE

#: evaluate's options that are not configuration fields (hand-written in plantseek.cli.evaluate)
RUN_OPTIONS = {"--suite", "--jobs", "--max-batch", "--executor", "--scheduler", "--device", "--timeout",
               "--memory-limit", "--store", "--no-store", "--json", "--table", "--no-progress",
               "--allow-failed", "--config", "--slurm-cluster", "--slurm-partition", "--slurm-time",
               "--slurm-cpus-per-task", "--slurm-mem", "--slurm-parallelism", "--slurm-chunk", "--slurm-log-folder"}


def options_of(command: str) -> dict[str, object]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s: a for a in sub.choices[command]._actions for s in a.option_strings if s.startswith("--")
            and s != "--help"}


def helped(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if "help" in f.metadata]


def test_every_overridable_field_has_exactly_one_option_and_every_option_a_field():
    generated = [flag(f) for cls in (Suite, CellConfig) for _, f in option_fields(cls)]
    flags = list(dict.fromkeys(generated))  # TrainConfig's --adam-kernel reaches both train and budget: one option
    assert flags == ["--tasks", "--pruners", "--densities", "--seeds", "--depth", "--width", "--noise", "--n-samples",
                     "--epochs", "--adam-kernel", "--protocol", "--instances"]
    assert set(options_of("evaluate")) == set(flags) | RUN_OPTIONS and not set(flags) & RUN_OPTIONS
    fields = {(cls, f.name) for cls in (Suite, CellConfig) for cls, f in option_fields(cls)}
    assert fields == {(Suite, n) for n in helped(Suite)} | {(TrainConfig, n) for n in helped(TrainConfig)} | {
        (CellConfig, n) for n in helped(CellConfig)}
    assert len(fields) == len(flags)


def test_the_options_keep_their_defaults_and_metavars():
    opts = options_of("evaluate")
    assert all(opts[f].default is None for f in ("--tasks", "--epochs", "--protocol", "--noise", "--instances"))
    assert opts["--protocol"].choices == ("calibrated", "paper")
    assert opts["--adam-kernel"].choices == ("fused", "single-tensor")
    assert opts["--n-samples"].dest == "n_samples" and opts["--protocol"].dest == "protocol"
    args = validate(["evaluate", "--suite", "smoke", "--no-store"])
    assert build_suite(args) == SUITES.get("smoke")  # no option given: the suite as registered


@dataclass(frozen=True)
class Inner:
    rate: float = field(default=0.5, metadata={"help": "a rate", "range": (0.0, 1.0)})
    kind: str = field(default="a", metadata={"help": "a kind", "choices": ("a", "b")})


@dataclass(frozen=True)
class Toy:
    size: int = field(default=4, metadata={"help": "a size", "range": (1, 100)})
    names: tuple[str, ...] = field(default=("x",), metadata={"help": "names", "parse": "names"})
    options: dict = field(default_factory=dict, metadata={"help": "a level", "flag": "--level", "key": "level",
                                                          "range": (0.0, math.inf)})
    inner: Inner = field(default=Inner(), metadata={"nested": True})
    other: Inner = field(default=Inner(), metadata={"nested": ("kind",)})
    note: str = ""  # no help: no option

    def __post_init__(self) -> None:
        if self.size == 13:
            raise ConfigError(f"size must not be 13, got {self.size!r}")


def toy_parser(cls: type = Toy) -> _Parser:
    parser = _Parser(prog="toy")
    add_options(parser, cls)
    return parser


def test_a_field_with_help_is_an_option_and_a_field_without_is_not():
    assert [a.option_strings[0] for a in toy_parser()._actions[1:]] == [
        "--size", "--names", "--level", "--rate", "--kind"]

    @dataclass(frozen=True)
    class Grown(Toy):
        seed_count: int = field(default=1, metadata={"help": "added with help: a new option", "range": (1, 9)})
        third: Inner = field(default_factory=Inner, metadata={"nested": ("rate",)})  # --rate again: no new option

    assert [a.option_strings[0] for a in toy_parser(Grown)._actions[1:]] == [
        "--size", "--names", "--level", "--rate", "--kind", "--seed-count"]
    assert toy_parser(Grown).parse_args(["--seed-count", "3"]).seed_count == 3


def test_parsed_options_are_applied_to_the_configuration():
    toy = Toy()
    assert overrides(toy, toy_parser().parse_args([])) == {}
    args = toy_parser().parse_args(["--size", "7", "--names", "p,q", "--level", "0.25", "--rate", "1", "--kind", "b"])
    changed = dataclasses.replace(toy, **overrides(toy, args))
    assert changed == Toy(size=7, names=["p", "q"], options={"level": 0.25}, inner=Inner(rate=1.0, kind="b"),
                          other=Inner(kind="b"))  # `other` takes only --kind
    same = toy_parser().parse_args(["--kind", "a"])  # a nested configuration left equal is not replaced
    assert overrides(toy, same) == {}


@pytest.mark.parametrize("argv,message", [
    (["--size", "0"], "argument --size: must be an integer >= 1 and <= 100, got '0'"),
    (["--size", "x"], "argument --size: invalid int value: 'x'"),
    (["--rate", "nan"], "argument --rate: must be a finite number >= 0 and <= 1, got 'nan'"),
    (["--kind", "c"], "argument --kind: invalid choice: 'c' (choose from 'a', 'b')"),
    (["--names", ","], "argument --names: needs at least one comma-separated name, got ','"),
])
def test_an_invalid_value_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        toy_parser().parse_args(argv)
    assert exc.value.code == 2 and capsys.readouterr().err == f"plantseek: error: {message}\n"


def test_a_value_the_dataclass_rejects_is_its_one_line_config_error():
    args = toy_parser().parse_args(["--size", "13"])
    with pytest.raises(ConfigError, match=r"^size must not be 13, got 13$"):
        dataclasses.replace(Toy(), **overrides(Toy(), args))


def test_the_dataclass_checks_reach_the_command_line(capsys):
    assert main(["evaluate", "--suite", "smoke", "--tasks", "circle", "--width", "1", "--no-store"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantseek: error: ") and "narrower than the ticket" in lines[0]
    with pytest.raises(SystemExit) as exc:  # argparse's exit (main lets it through)
        main(["evaluate", "--suite", "smoke", "--epochs", "-1"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == ("plantseek: error: argument --epochs: must be an integer >= 0 and <= 10000, "
                                       "got '-1'\n")


#: cell ids of ``evaluate`` with overrides, taken before the options were generated (``--suite smoke --epochs 2
#: --json``'s output of a run, and sha256 digests of the expanded cell ids of larger grids). Re-pinned when the
#: host-matched planting factors (issue 22) set TASK_NUMERICS of circle, relu, helix, digits and bars and added five
#: leak detectors (in every suite of all registered pruners, and the leak-audit suite on all six tasks): with the
#: previous TASK_NUMERICS and without those detectors every grid expanded to its previous pinned ids (checked).
SMOKE_EPOCHS_2 = {"2d1d4832bd57962bdbfa", "366c2a32474247bfdf3c", "5640528da9347af59f64", "9d608d31044419257442",
                  "afdab81627fa96bb4298", "bf30e05c2cd9f5ba4143", "e612bb971beb89a7375c", "f65006bea57ba69f63ef"}
PINNED = {
    "--suite smoke --depth 3 --width 30 --noise 0.1 --n-samples 500": (8, "54e8784c5e9850fd"),
    "--suite smoke --protocol paper --adam-kernel single-tensor --densities 0.1,ticket,0.010 --seeds 0-2,7":
        (48, "601d033e981a923c"),
    "--suite smoke --tasks relu --pruners magnitude,random": (4, "93feeb888f437b3f"),
    "--suite default --adam-kernel single-tensor": (312, "7ed78efcb8220356"),
    "--suite conv-default --noise 0.2 --width 40": (328, "a5d4678fc3b77997"),
    "--suite published --tasks circle,digits --seeds 1 --noise 0.05": (412, "c37e676ab35b51de"),
    "--suite attention-default --epochs 5 --protocol paper": (164, "eebff3952c7638ee"),
    "--suite smoke --noise 0.01": (8, "196da7a9703ebf20"),
}


def cell_ids(options: str) -> list[str]:
    return [c.cell_id for c in expand(build_suite(validate(["evaluate", *options.split(), "--no-store"])))]


def test_overrides_reach_the_cells_as_before(monkeypatch):
    import plantseek.records.cells as cells

    monkeypatch.setattr(cells, "NUMERICS", 4)  # the ids were pinned at numerics 4: what is compared is the options
    # pinned under the first training engine, whose ids hash no engine version (what this test pins is that the
    # options reach the cells; tests/run/test_grid.py pins the ids of both engines)
    monkeypatch.setenv(ENGINE_VARIABLE, str(FIRST_ENGINE))
    assert set(cell_ids("--suite smoke --epochs 2")) == SMOKE_EPOCHS_2
    for options, (n, digest) in PINNED.items():
        ids = cell_ids(options)
        assert (len(ids), hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]) == (n, digest), options
