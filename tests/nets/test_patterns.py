"""N:M and structured density patterns (plantseek.nets.patterns, plantseek.core.patterns, plantseek.score.patterns),
against hand-computed values and brute force."""

from __future__ import annotations

import base64
import itertools
import math
import pickle
import random

import pytest
import torch

from plantseek.core.errors import ConfigError, MaskError
from plantseek.core.patterns import Pattern, canonical_pattern, parse_pattern
from plantseek.families.mlp.network import Architecture
from plantseek.nets.masks import pack_mask, select_top, validate_density, validate_pruned_mask
from plantseek.nets.patterns import PatternDensity, check_pattern, pattern_density, pattern_of
from plantseek.records.cells import CellConfig
from plantseek.run.suites import SUITES, canonical_density
from plantseek.score.patterns import nm_ceiling, nm_feasible, pattern_metrics, structured_recall

NM24 = Pattern("nm", n=2, m=4)


# --- parsing -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    ("2:4", "2:4"), (" 2 : 4 ", "2:4"), ("4:8", "4:8"), ("1:1", "1:1"), ("02:04", "2:4"),
    ("units:0.25", "units:0.25"), ("UNITS:0.250", "units:0.25"), ("units:1", "units:1.0"), ("units: .5", "units:0.5"),
])
def test_patterns_are_written_canonically(text, canonical):
    assert canonical_pattern(text) == canonical
    assert canonical_density(text) == canonical


@pytest.mark.parametrize("text, words", [
    ("3:2", "0 < N <= M"), ("0:4", "0 < N <= M"), ("2:65", "M <= 64"), ("2:x", "unknown pattern"),
    ("units:0", "in (0, 1]"), ("units:1.5", "in (0, 1]"), ("units:nan", "in (0, 1]"), ("units:abc", "fraction"),
    ("rows:0.5", "unknown pattern"), (":", "unknown pattern"),
])
def test_bad_patterns_are_refused_in_one_line(text, words):
    with pytest.raises(ConfigError) as err:
        canonical_density(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_command_line_refuses_a_bad_pattern_with_the_same_line():
    import argparse

    from plantseek.cli.arguments import densities

    assert densities("ticket, 2:4,units:0.5,0.1") == ["ticket", "2:4", "units:0.5", "0.1"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"needs 0 < N <= M"):
        densities("0.1,5:4")


def test_a_pattern_density_is_its_fraction_and_keeps_its_pattern_through_validation_and_pickling():
    d = pattern_density("2:4")
    assert float(d) == 0.5 and pattern_of(d) == NM24
    assert validate_density(d) is d
    back = pickle.loads(pickle.dumps(d))
    assert float(back) == 0.5 and pattern_of(back) == NM24
    assert pattern_of(d ** 0.5) is None  # arithmetic gives a plain density
    assert float(pattern_density("units:0.25")) == 0.25


def test_cell_identity_differs_between_half_and_two_of_four():
    a = CellConfig("circle", 4, 20, 0, "magnitude", canonical_density("0.5"))
    b = CellConfig("circle", 4, 20, 0, "magnitude", canonical_density("2:4"))
    c = CellConfig("circle", 4, 20, 0, "magnitude", canonical_density(" 2 : 4"))
    assert a.cell_id != b.cell_id and b.cell_id == c.cell_id


# --- the exact-count rule per group ---------------------------------------------------------------------------------

def _nm_mask(rows: int, length: int, n: int, m: int, seed: int) -> torch.Tensor:
    """A random mask keeping exactly n of every m (remainder r: floor(n r / m + 1/2)), built independently."""
    rng = random.Random(seed)
    out = torch.zeros(rows, length, dtype=torch.bool)
    for r in range(rows):
        for start in range(0, length, m):
            size = min(m, length - start)
            keep = n if size == m else math.floor(n * size / m + 0.5)
            for j in rng.sample(range(size), keep):
                out[r, start + j] = True
    return out


def test_check_pattern_accepts_n_of_every_m_and_names_the_wrong_group():
    good = _nm_mask(3, 8, 2, 4, seed=0)
    check_pattern({"w": good}, NM24)
    bad = good.clone()
    row = bad[1, 4:8]
    bad[1, 4:8] = ~row  # 2 kept -> 2 kept; flip one more to break the count
    bad[1, 4] = ~bad[1, 4]
    with pytest.raises(MaskError) as err:
        check_pattern({"w": bad}, NM24)
    msg = str(err.value)
    assert "mask['w'] row 1 group 1 (inputs 4..7)" in msg and "2:4 pattern needs exactly 2" in msg
    assert "\n" not in msg


def test_remainder_group_keeps_round_half_up_of_n_r_over_m():
    # rows of 6 under 2:4: groups of 4 (keep 2) and 2 (keep round(2*2/4) = 1); rows of 5: 4 and 1 (keep round(0.5)=1)
    check_pattern({"w": torch.tensor([[1, 1, 0, 0, 0, 1]], dtype=torch.bool)}, NM24)
    check_pattern({"w": torch.tensor([[0, 1, 0, 1, 1]], dtype=torch.bool)}, NM24)
    with pytest.raises(MaskError, match=r"row 0 group 1 \(inputs 4..5\) keeps 2 weights, .* exactly 1"):
        check_pattern({"w": torch.tensor([[1, 1, 0, 0, 1, 1]], dtype=torch.bool)}, NM24)


def test_conv_kernels_are_grouped_along_the_flattened_input_channels_and_kernel():
    # a (2 out, 2 in, 2, 2) kernel: rows of 8 = in_channel-major [c0 k00 k01 k10 k11, c1 ...]; groups = channels here
    m = torch.zeros(2, 2, 2, 2, dtype=torch.bool)
    m[:, :, 0, :] = True  # each input channel keeps its first kernel row: 2 of each group of 4
    check_pattern({"conv": m}, NM24)
    m[0, 1, 1, 1] = True
    with pytest.raises(MaskError, match=r"row 0 group 1 \(inputs 4..7\) keeps 3"):
        check_pattern({"conv": m}, NM24)


def test_validate_pruned_mask_checks_the_pattern_instead_of_the_total():
    arch = Architecture((8, 4, 2))
    shapes = arch.prunable_shapes()
    mask = {n: _nm_mask(s[0], s[1], 2, 4, seed=i).reshape(s) for i, (n, s) in enumerate(shapes.items())}
    assert validate_pruned_mask(mask, arch, pattern_density("2:4")) is not None
    # the same number of weights, but unstructured: refused under 2:4, accepted under 0.5
    flat = {n: torch.zeros(s, dtype=torch.bool) for n, s in shapes.items()}
    for n, s in shapes.items():
        flat[n].view(-1)[: math.prod(s) // 2] = True
    assert validate_pruned_mask(flat, arch, 0.5) is not None
    with pytest.raises(MaskError, match=r"group .* 2:4 pattern needs exactly 2"):
        validate_pruned_mask(flat, arch, pattern_density("2:4"))


def test_structured_masks_keep_whole_rows_and_the_exact_row_count():
    arch = Architecture((3, 4, 2))
    w0 = torch.zeros(4, 3, dtype=torch.bool)
    w0[[0, 3]] = True
    w1 = torch.zeros(2, 4, dtype=torch.bool)
    w1[1] = True
    mask = {"layers.0.weight": w0, "layers.1.weight": w1}
    validate_pruned_mask(mask, arch, pattern_density("units:0.5"))  # 2 of 4 rows, 1 of 2 rows
    w0[0, 1] = False
    with pytest.raises(MaskError, match=r"\['layers.0.weight'\] row 0 is partly kept"):
        validate_pruned_mask(mask, arch, pattern_density("units:0.5"))
    w0[0, 1] = True
    w0[1] = True
    with pytest.raises(MaskError, match=r"keeps 3 of 4 rows, the units:0.5 pattern needs exactly 2"):
        validate_pruned_mask(mask, arch, pattern_density("units:0.5"))


# --- selection ------------------------------------------------------------------------------------------------------

def _brute_nm(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """The best N:M mask by enumeration of every subset of every group (ties: the lexicographically earliest)."""
    out = torch.zeros(scores.shape, dtype=torch.bool)
    for r in range(scores.shape[0]):
        for start in range(0, scores.shape[1], m):
            size = min(m, scores.shape[1] - start)
            keep = n if size == m else math.floor(n * size / m + 0.5)
            best = max(itertools.combinations(range(size), keep),
                       key=lambda c: (sum(float(scores[r, start + j]) for j in c), [-j for j in c]))
            for j in best:
                out[r, start + j] = True
    return out


@pytest.mark.parametrize("n, m, length, seed", [(2, 4, 8, 0), (2, 4, 6, 1), (4, 8, 8, 2), (1, 3, 7, 3),
                                                (2, 4, 5, 4), (3, 4, 9, 5)])
def test_top_n_per_group_equals_brute_force(n, m, length, seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(3, length, generator=g)
    got = select_top({"w": scores}, pattern_density(f"{n}:{m}"))["w"]
    assert torch.equal(got, _brute_nm(scores, n, m))
    # ties (integer scores) are broken by position, earlier first
    ties = torch.randint(0, 2, (3, length), generator=g).double()
    assert torch.equal(select_top({"w": ties}, pattern_density(f"{n}:{m}"))["w"], _brute_nm(ties, n, m))


def test_top_n_per_group_ignores_the_selection_scope_and_keeps_the_shape():
    scores = torch.randn(2, 3, 2, 2, generator=torch.Generator().manual_seed(7))
    a = select_top({"c": scores}, pattern_density("2:4"), scope="global")["c"]
    b = select_top({"c": scores}, pattern_density("2:4"), scope="local")["c"]
    assert torch.equal(a, b) and a.shape == scores.shape
    assert torch.equal(a.reshape(2, 12), _brute_nm(scores.reshape(2, 12), 2, 4))


def test_structured_selection_keeps_the_rows_of_largest_summed_score():
    scores = torch.tensor([[1.0, 1.0, 1.0], [5.0, -4.0, 0.0], [0.0, 0.0, 2.5], [3.0, 0.0, 0.0]])
    # row sums 3, 1, 2.5, 3: half of 4 rows = 2 -> rows 0 and 3 (tie 3 = 3: both kept)
    got = select_top({"w": scores}, pattern_density("units:0.5"))["w"]
    assert got.tolist() == [[True] * 3, [False] * 3, [False] * 3, [True] * 3]
    got = select_top({"w": scores}, pattern_density("units:0.25"))["w"]  # 1 row; the tie goes to the earlier row
    assert got[0].all() and not got[1:].any()


def test_magnitude_honours_the_pattern_through_the_one_selection():
    from plantseek.families.mlp.network import build_model
    from plantseek.prune.contract import get_pruner
    from plantseek.train.config import TrainConfig

    arch = Architecture((6, 8, 8, 2))
    g = torch.Generator().manual_seed(0)
    state = {n: torch.randn(s, generator=g) for n, s in {**arch.prunable_shapes(), **arch.bias_shapes()}.items()}
    model = build_model(arch, state)
    budget = TrainConfig(epochs=1)
    for spec in ("2:4", "4:8", "units:0.5"):
        mask = get_pruner("magnitude").prune(model, None, pattern_density(spec), generator=torch.Generator(),
                                             budget=budget)
        validate_pruned_mask(mask, arch, pattern_density(spec))
        scores = {n: p.detach().abs() for n, p in model.named_parameters() if n in mask}
        assert all(torch.equal(mask[n], select_top(scores, pattern_density(spec))[n]) for n in mask)


# --- metrics --------------------------------------------------------------------------------------------------------

def test_nm_ceiling_on_a_hand_example():
    # row 0: groups [1 1 1 0] (3 ticket weights, 2:4 keeps at most 2) and [1 0 0 0] (1); row 1: [1 1 0 0], [0 0 0 0]
    # remainder row of 6: [1 1 1 1] (4 -> 2) and [1 1] (2 -> keeps 1)
    ticket = {"a": torch.tensor([[1, 1, 1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]], dtype=torch.bool),
              "b": torch.tensor([[1, 1, 1, 1, 1, 1]], dtype=torch.bool)}
    # kept at most: a: 2 + 1 + 2 + 0 = 5 of 6; b: 2 + 1 = 3 of 6 -> 8 / 12
    assert nm_ceiling(ticket, NM24) == pytest.approx(8 / 12)
    assert not nm_feasible(ticket, NM24)
    easy = {"a": torch.tensor([[1, 0, 1, 0, 0, 0, 0, 1]], dtype=torch.bool)}
    assert nm_feasible(easy, NM24) and nm_ceiling(easy, NM24) == 1.0
    assert nm_ceiling(ticket, Pattern("nm", n=4, m=4)) == 1.0


def test_structured_recall_on_a_hand_example():
    # ticket units: a rows 0 and 2, b row 1 (b row 0 holds no ticket weight); mask keeps a rows 0, 1 and b row 0
    ticket = {"a": torch.tensor([[1, 0], [0, 0], [0, 1]], dtype=torch.bool),
              "b": torch.tensor([[0, 0, 0], [1, 1, 0]], dtype=torch.bool)}
    mask = {"a": torch.tensor([[1, 1], [1, 1], [0, 0]], dtype=torch.bool),
            "b": torch.tensor([[1, 1, 1], [0, 0, 0]], dtype=torch.bool)}
    assert structured_recall(mask, ticket) == pytest.approx(1 / 3)
    assert pattern_metrics(mask, ticket, "units:0.5") == {"structured_recall": pytest.approx(1 / 3),
                                                          "ticket_units": 3}
    assert pattern_metrics(mask, ticket, "0.5") == {}
    assert set(pattern_metrics(mask, ticket, "2:4")) == {"nm_ceiling", "nm_feasible"}


# --- worker and parent -----------------------------------------------------------------------------------------------

def test_the_parent_refuses_a_mask_that_breaks_the_pattern_even_from_a_lying_worker():
    from plantseek.run.isolation.pruning import PruneJob, decode_mask

    arch = Architecture((8, 4, 2))
    shapes = arch.prunable_shapes()
    flat = {n: torch.zeros(s, dtype=torch.bool) for n, s in shapes.items()}
    for n, s in shapes.items():
        flat[n].view(-1)[: math.prod(s) // 2] = True
    entry = {"shapes": [[n, list(s)] for n, s in shapes.items()], "bits": base64.b64encode(pack_mask(flat)).decode()}
    job = PruneJob(CellConfig("circle", 3, 4, 0, "magnitude", "2:4"), pattern_density("2:4"))
    with pytest.raises(MaskError, match=r"group .* 2:4 pattern needs exactly 2"):
        decode_mask(entry, job, arch)
    assert decode_mask(entry, PruneJob(job.config, 0.5), arch) is not None


def test_a_run_keeps_n_of_every_m_records_the_ceiling_and_fails_a_pruner_that_cannot_honour_the_pattern(tmp_path):
    """End to end through the isolated workers: magnitude honours 2:4 and units:0.5; the multi-shot schedule (its
    intermediate rounds are unstructured) returns a mask the worker's validation refuses, one line naming the group."""
    from plantseek.run.grid import expand
    from plantseek.run.bundle import run_group

    suite = SUITES.get("smoke").with_overrides(tasks=["circle"], pruners=["magnitude", "magnitude-multishot"],
                                                densities=["2:4", "units:0.5"])
    cells = expand(suite)
    rows = {(c.pruner, c.density): r for c, r in run_group(cells)}
    ok = rows[("magnitude", "2:4")]
    assert ok.status == "ok" and 0 < ok.metrics["nm_ceiling"] <= 1 and ok.metrics["recall"] <= ok.metrics["nm_ceiling"]
    assert rows[("magnitude", "units:0.5")].metrics["structured_recall"] >= 0
    bad = rows[("magnitude-multishot", "2:4")]
    assert bad.status == "failed" and "2:4 pattern needs exactly" in bad.error and "\n" not in bad.error


def test_the_pattern_suites_ask_for_patterns_of_score_pruners_only():
    for name in ("patterns-default", "patterns-paper"):
        suite = SUITES.get(name)
        assert {"2:4", "4:8"} <= set(suite.densities) and any(d.startswith("units:") for d in suite.densities)
        assert not any("multishot" in p or p.startswith("synflow-") for p in suite.pruners)
    assert len(SUITES.get("patterns-paper").seeds) >= 10
    assert PatternDensity(NM24) == 0.5 and parse_pattern("2:4") == NM24
