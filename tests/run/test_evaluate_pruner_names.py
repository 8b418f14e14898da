"""`evaluate --pruners file.py:Class` stores and shows the cells under the pruner's declared `name` (read in a
prune worker, as `submit` does), with the file and its code hash as provenance; a declared name that is a
registered pruner's, or that two files of one run declare, is refused with one line before any cell runs."""

import hashlib
import json

from plantseek.cli import main
from plantseek.store.results import load_results

PRUNER = '''
from plantseek.prune.contract import get_pruner


class {cls}:
    name = "{name}"

    def prune(self, model, data, density, *, generator, budget):
        return get_pruner("magnitude").prune(model, data, density, generator=generator, budget=budget)
'''
GRID = ["evaluate", "--suite", "smoke", "--tasks", "circle", "--densities", "ticket", "--no-progress"]


def pruner_file(folder, name, cls="Outside"):
    path = folder / f"{cls.lower()}_{name}.py"
    path.write_text(PRUNER.format(cls=cls, name=name))
    return path


def test_cells_are_stored_and_printed_under_the_declared_name(tmp_path, capsys):
    path = pruner_file(tmp_path, "layer-topk-outside")
    ref = f"{path}:Outside"
    store = tmp_path / "r.db"
    assert main([*GRID, "--pruners", f"magnitude,{ref}", "--store", str(store)]) == 0
    df = load_results(store)
    mine = df[df.pruner_source == f"{path.name}:Outside"]  # the file's name: no local folder is ever stored
    assert str(tmp_path) not in df.to_csv()
    assert len(df) == 2 and list(mine.pruner) == ["layer-topk-outside"]
    assert list(mine.pruner_code) == [hashlib.sha256(path.read_bytes()).hexdigest()[:16]]
    assert list(df[df.pruner_source == ""].pruner) == ["magnitude"] and (df.status == "ok").all()
    # the same mask as magnitude's: the name changes nothing but the label
    assert mine.strong_metric.iloc[0] == df[df.pruner == "magnitude"].strong_metric.iloc[0]
    capsys.readouterr()
    assert main([*GRID, "--pruners", ref, "--no-store", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["pruner"] == "layer-topk-outside" and row["pruner_source"] == f"{path.name}:Outside"
    assert str(tmp_path) not in json.dumps(row)


def test_a_declared_name_of_a_registered_pruner_is_refused_before_any_work(tmp_path, capsys):
    path = pruner_file(tmp_path, "magnitude")
    store = tmp_path / "r.db"
    assert main([*GRID, "--pruners", f"{path}:Outside", "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "name 'magnitude' is taken by a registered pruner" in err and str(path) in err
    assert not store.exists()


def test_two_files_declaring_one_name_are_refused(tmp_path, capsys):
    a, b = pruner_file(tmp_path, "twin", "First"), pruner_file(tmp_path, "twin", "Second")
    assert main([*GRID, "--pruners", f"{a}:First,{b}:Second", "--no-store"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "name 'twin' is also declared by" in err
