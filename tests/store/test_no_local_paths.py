"""A submitted pruner's folder (a user name, a home folder) is never stored, hashed or published: only the file's
name and class, with the file's code hash identifying it."""

import json

import pytest

from plantseek.records.cells import CellConfig, published_pruner_ref


@pytest.mark.parametrize("ref, published", [
    ("magnitude", "magnitude"),
    ("my_pruner.py", "my_pruner.py"),
    ("examples/my_pruner.py", "my_pruner.py"),
    ("/home/alice/work/my_pruner.py:Mine", "my_pruner.py:Mine"),
    ("../../home/alice/p.py:P", "p.py:P"),
    (r"C:\Users\alice\p.py:P", "p.py:P"),
])
def test_a_file_reference_is_published_as_its_file_name(ref, published):
    assert published_pruner_ref(ref) == published
    assert published_pruner_ref(published) == published  # idempotent


def cell(ref: str, code: str = "abc") -> CellConfig:
    return CellConfig("circle", 4, 20, 0, ref, "0.1", pruner_code=code)


def test_the_cell_id_does_not_depend_on_where_the_file_lay():
    here, there = cell("/home/alice/p.py:P"), cell("/tmp/build/p.py:P")
    assert here.cell_id == there.cell_id == cell("p.py:P").cell_id
    assert cell("/home/alice/p.py:P", code="other").cell_id != here.cell_id  # the code identifies the file
    stored = json.dumps(here.published().as_dict())
    assert "alice" not in stored and CellConfig.from_dict(json.loads(stored)).cell_id == here.cell_id
    assert here.pruner == "/home/alice/p.py:P"  # the run itself still loads the file from where it lies
