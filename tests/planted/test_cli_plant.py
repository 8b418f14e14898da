"""The `plant` command end to end, in a subprocess, as a user runs it."""

import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "plantseek", *args], capture_output=True, text=True, timeout=300)


def test_plant_json_has_documented_keys(tmp_path):
    out = tmp_path / "c.pt"
    r = run("plant", "--task", "circle", "--depth", "5", "--width", "100", "--seed", "0", "--json",
            "--noise", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    for key in ("task", "depth", "width", "seed", "ticket_weights", "ticket_weights_per_layer", "ticket_density",
                "ticket_metric", "metric_name", "audit"):
        assert key in info
    assert info["ticket_weights"] == 108 and info["ticket_weights_per_layer"] == [4, 4, 20, 80]
    assert info["metric_name"] == "accuracy" and info["ticket_metric"] >= 0.98
    assert info["ticket_density"] == pytest.approx(108 / (2 * 100 + 100 * 100 * 2 + 100 * 4))
    assert out.is_file()
    again = run("plant", "--load", str(out), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["ticket_metric"] == info["ticket_metric"]


def test_plant_summary_is_readable():
    r = run("plant", "--task", "helix", "--depth", "5", "--width", "100", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "ticket weights per layer: [1, 30, 61, 3]" in r.stdout
    assert "leak audit" in r.stdout and "KS" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["plant", "--task", "square"], "unknown task 'square'"),
    (["plant", "--task", "circle", "--depth", "2"], "depth must be an integer >= 3"),
    (["plant", "--task", "helix", "--width", "10"], "narrower than the ticket's widest hidden layer"),
    (["plant", "--task", "relu", "--noise", "-1"], "argument --noise: must be a finite number >= 0"),
    (["plant", "--task", "relu", "--depth", "five"], "invalid int value"),
])
def test_bad_input_one_line_error(args, needle):
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


@pytest.mark.parametrize("content", [b"", b"hello, not an instance\n", b"PK\x03\x04garbage"])
def test_corrupt_instance_file_one_line_error(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    r = run("plant", "--load", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "bad.pt" in r.stderr and "instance" in r.stderr


def test_foreign_torch_file_is_rejected(tmp_path):
    import torch

    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    r = run("plant", "--load", str(path))
    assert r.returncode == 2 and "not a plantseek instance file" in r.stderr


def test_truncated_instance_file_is_rejected(tmp_path):
    import plantseek

    path = tmp_path / "t.pt"
    plantseek.plant("relu", depth=4, width=10, seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    r = run("plant", "--load", str(path))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "t.pt" in r.stderr
