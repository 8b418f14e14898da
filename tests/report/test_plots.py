"""Plots from synthetic results frames: the files exist and are valid, and only the DataFrame is read."""

from __future__ import annotations

import json
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import synthetic_results  # noqa: E402

from plantseek.core.errors import ConfigError  # noqa: E402
from plantseek.frame.prepared import prepare  # noqa: E402
from plantseek.report.plots import (KINDS, figure_layers, figure_metric, per_layer_profiles, plots_by_setting,  # noqa: E402
                             write_plots)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_store(monkeypatch):
    """Plots must never touch a results store: any load_results call fails the test."""
    mod = types.ModuleType("plantseek.store.results")

    def refuse(*a, **k):
        raise AssertionError("plots read the store")

    mod.load_results = mod.load_checked = refuse
    monkeypatch.setitem(sys.modules, "plantseek.store.results", mod)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_png_files_for_every_kind_and_only_those(tmp_path):
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "edge-popup"), seeds=(0, 1))
    before = df.copy()
    out = tmp_path / "plots"
    files = write_plots(df, out, tasks=["relu"])
    pd.testing.assert_frame_equal(df, before)  # the input frame is only read
    assert sorted(p.name for p in files) == sorted(f"relu-d5-w100-noise0.01_{k}.png" for k in KINDS)
    assert sorted(out.iterdir()) == sorted(files)  # nothing else written
    for f in files:
        w, h = _png_size(f)
        assert w > 500 and h > 300
    from PIL import Image  # matplotlib's own dependency

    for f in files:
        with Image.open(f) as im:
            im.verify()


def test_svg_and_pdf(tmp_path):
    df = synthetic_results(tasks=("circle",), pruners=("random", "synflow"), seeds=(0, 1))
    by = plots_by_setting(df, tmp_path / "svg", pruners=["synflow"], fmt="svg")
    (slug, kinds), = by.items()
    assert slug == "circle-d5-w100-noise0.01" and set(kinds) == set(KINDS)
    for path in kinds.values():
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
    d = prepare(df)
    fig = figure_metric(d[d["task"] == "circle"])
    fig.savefig(tmp_path / "m.pdf", format="pdf")
    assert (tmp_path / "m.pdf").read_bytes()[:5] == b"%PDF-"


def test_filters_and_format_errors(tmp_path):
    df = synthetic_results(tasks=("circle",), pruners=("random",), seeds=(0,))
    with pytest.raises(ConfigError, match="no results for task"):
        write_plots(df, tmp_path, tasks=["nope"])
    with pytest.raises(ConfigError, match="no results for pruner"):
        write_plots(df, tmp_path, pruners=["nope"])
    with pytest.raises(ConfigError, match="format"):
        write_plots(df, tmp_path, fmt="jpg")
    assert list(tmp_path.iterdir()) == []


def test_per_layer_profile_by_hand():
    rows = synthetic_results(tasks=("relu",), pruners=("random",), seeds=(0, 1), fail=False, nan=False)
    rows = rows[rows["density_spec"] == "ticket"].copy()
    rows["metrics_json"] = [json.dumps({"per_layer": {"density": [0.1, 0.2, 0.0, 0.4],
                                                      "ticket_density": [0.5, 0.01, 0.01, 0.5]}}),
                            json.dumps({"per_layer": {"density": [0.3, 0.2, 0.0, 0.0],
                                                      "ticket_density": [0.5, 0.01, 0.01, 0.5]}})]
    spec, dens, ticket, profiles = per_layer_profiles(prepare(rows))
    assert spec == "ticket" and dens == pytest.approx(4 / 20200)
    np.testing.assert_allclose(profiles["random"], [0.2, 0.2, 0.0, 0.2])
    np.testing.assert_allclose(ticket, [0.5, 0.01, 0.01, 0.5])
    assert figure_layers(prepare(rows)) is not None  # zero layers (collapse) are drawn, not an error
    no_json = prepare(rows.assign(metrics_json=""))
    assert figure_layers(no_json) is None


def test_hostile_names_and_missing_data(tmp_path):
    df = synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0, 1))
    df.loc[df["pruner"] == "snip", "pruner"] = "$\\frac{1}{0}$ <b>x</b>"  # mathtext would choke on it
    df.loc[df["pruner"] == "random", ["prune_seconds", "train_seconds"]] = np.nan
    df.loc[df["task"] == "circle", "task"] = "../../etc/circle"  # a task name is no path
    files = write_plots(df, tmp_path / "p")
    assert all(f.parent == tmp_path / "p" for f in files) and len(files) == 5
    assert all(f.name.startswith("etc-circle-d5") for f in files)


def test_cli_plot(monkeypatch, tmp_path, capsys):
    from plantseek.cli import main

    df = synthetic_results(tasks=("relu",), pruners=("random", "magnitude"), seeds=(0, 1))
    mod = types.ModuleType("plantseek.store.results")
    mod.load_results = lambda path: df.copy()
    mod.load_checked = lambda path: types.SimpleNamespace(frame=df.copy(), refused=[], problems=[], hidden_masks=0)
    monkeypatch.setitem(sys.modules, "plantseek.store.results", mod)
    store = tmp_path / "r.db"
    store.write_bytes(b"")
    out = tmp_path / "figs"
    assert main(["plot", "--store", str(store), "--out", str(out), "--format", "svg", "--pruners", "magnitude"]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 5 and all(Path(p).exists() and p.endswith(".svg") for p in printed)
    assert main(["plot", "--store", str(store), "--out", str(out), "--tasks", "circle"]) == 2
    assert "no results for task(s) 'circle'" in capsys.readouterr().err
