"""Recovery metrics on hand-built masks with known answers, against a slow path-enumeration reference, and on a
real planted instance's own ticket."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

from plantseek.score import metrics
from plantseek.core.errors import MaskError

KEYS = {"precision", "recall", "f1", "jaccard", "effective_density", "nominal_density", "contains_ticket",
        "layer_collapse", "collapsed_layers", "ticket_neurons_recovered", "per_layer"}


def mk(*layers) -> dict[str, torch.Tensor]:
    """A mask from nested 0/1 lists, one per weight matrix (out x in)."""
    return {f"layers.{l}.weight": torch.tensor(w, dtype=torch.bool) for l, w in enumerate(layers)}


def zeros_like(mask):
    return {n: torch.zeros_like(m) for n, m in mask.items()}


# A 2-3-2-1 net (6 + 6 + 2 = 14 weights). Ticket: x0 -> h0, x1 -> h1; h0, h1 -> g0; g0 -> y.
TICKET = mk(
    [[1, 0], [0, 1], [0, 0]],
    [[1, 1, 0], [0, 0, 0]],
    [[1, 0]],
)
N = 14


def test_mask_equal_to_ticket():
    r = metrics.recovery_metrics(TICKET, TICKET)
    assert set(r) == KEYS
    assert r["precision"] == r["recall"] == r["f1"] == r["jaccard"] == 1.0
    assert r["contains_ticket"] is True
    assert r["effective_density"] == r["nominal_density"] == 5 / N
    assert r["layer_collapse"] is False and r["collapsed_layers"] == []
    assert r["ticket_neurons_recovered"] == 1.0
    json.dumps(r)  # stored per cell


def test_disjoint_mask():
    mask = mk(
        [[0, 1], [1, 0], [1, 1]],
        [[0, 0, 1], [1, 1, 1]],
        [[0, 1]],
    )
    r = metrics.recovery_metrics(mask, TICKET)
    assert r["precision"] == r["recall"] == r["f1"] == r["jaccard"] == 0.0
    assert r["contains_ticket"] is False
    assert r["ticket_neurons_recovered"] == 0.0
    assert r["nominal_density"] == 9 / N
    # every kept weight is on a path x -> h -> g1 -> y except h2 -> g0 (g0 has no kept weight to y)
    assert r["effective_density"] == (4 + 3 + 1) / N
    eff = metrics.effective_mask(mask)
    assert eff["layers.1.weight"].tolist() == [[False, False, False], [True, True, True]]
    assert eff["layers.2.weight"].tolist() == [[False, True]]


def test_superset_of_ticket():
    mask = {n: m.clone() for n, m in TICKET.items()}
    mask["layers.0.weight"][2, 0] = True  # x0 -> h2
    mask["layers.1.weight"][0, 2] = True  # h2 -> g0
    mask["layers.1.weight"][1, 0] = True  # h0 -> g1 (dangling: g1 has no kept weight to y)
    r = metrics.recovery_metrics(mask, TICKET)
    assert r["recall"] == 1.0
    assert r["precision"] == pytest.approx(5 / 8)
    assert r["f1"] == pytest.approx(2 * 5 / (8 + 5))
    assert r["jaccard"] == pytest.approx(5 / 8)
    assert r["contains_ticket"] is True
    assert r["ticket_neurons_recovered"] == 1.0
    assert r["nominal_density"] == 8 / N
    assert r["effective_density"] == 7 / N


def test_dangling_weight_counts_nominally_not_effectively():
    mask = {n: m.clone() for n, m in TICKET.items()}
    mask["layers.0.weight"][2, 1] = True  # x1 -> h2, but h2 has no kept outgoing weight
    assert metrics.nominal_density(mask) == 6 / N
    assert metrics.effective_density(mask) == 5 / N
    eff = metrics.effective_mask(mask)
    assert all(torch.equal(eff[n], TICKET[n]) for n in TICKET)
    # and the mirror case: a weight out of a unit no input reaches (h2 -> g0, h2 has no kept incoming weight)
    mask = {n: m.clone() for n, m in TICKET.items()}
    mask["layers.1.weight"][0, 2] = True
    assert metrics.nominal_density(mask) == 6 / N
    assert metrics.effective_density(mask) == 5 / N


def test_biases_do_not_create_paths_and_bias_entries_are_ignored():
    mask = mk(
        [[0, 0], [0, 0], [0, 0]],  # nothing enters the hidden layer: its units are constants relu(bias)
        [[1, 1, 1], [1, 1, 1]],
        [[1, 1]],
    )
    mask["layers.0.bias"] = torch.ones(3, dtype=torch.bool)
    assert metrics.nominal_density(mask) == 8 / N
    assert metrics.effective_density(mask) == 0.0
    assert metrics.layer_collapse(mask) is True
    assert metrics.collapsed_layers(mask) == [0]
    assert "layers.0.bias" not in metrics.effective_mask(mask)


def test_collapsed_layer():
    mask = mk(
        [[1, 1], [1, 1], [1, 1]],
        [[0, 0, 0], [0, 0, 0]],  # layer 1 pruned away entirely
        [[1, 1]],
    )
    r = metrics.recovery_metrics(mask, TICKET)
    assert r["layer_collapse"] is True
    assert r["collapsed_layers"] == [1]
    assert r["effective_density"] == 0.0
    assert r["nominal_density"] == 8 / N
    assert r["per_layer"]["density"] == [1.0, 0.0, 1.0]
    assert r["per_layer"]["precision"] == [2 / 6, 0.0, 0.5]  # empty layer: precision 0
    assert r["per_layer"]["recall"] == [1.0, 0.0, 1.0]


def test_collapse_without_an_empty_layer_names_the_cut():
    # x -> h0 only; layer 1 keeps only h1 -> g0: forward dies in layer 1, backward dies in layer 0
    mask = mk(
        [[1, 1], [0, 0], [0, 0]],
        [[0, 1, 0], [0, 0, 0]],
        [[1, 0]],
    )
    assert metrics.layer_collapse(mask) is True
    assert metrics.collapsed_layers(mask) == [0, 1]
    assert metrics.effective_density(mask) == 0.0
    # empty first and last layers are both named, and so is any empty layer between them
    assert metrics.collapsed_layers(zeros_like(TICKET)) == [0, 1, 2]


def test_per_layer_numbers_by_hand():
    mask = mk(
        [[1, 1], [0, 0], [0, 1]],  # 3 kept, ticket 2, both 1 (x0->h0)
        [[1, 0, 1], [0, 0, 0]],  # 2 kept, ticket 2, both 1 (h0->g0)
        [[1, 1]],  # 2 kept, ticket 1, both 1
    )
    r = metrics.recovery_metrics(mask, TICKET)
    pl = r["per_layer"]
    assert pl["density"] == [3 / 6, 2 / 6, 2 / 2]
    assert pl["ticket_density"] == [2 / 6, 2 / 6, 1 / 2]
    assert pl["recall"] == [0.5, 0.5, 1.0]
    assert pl["precision"] == pytest.approx([1 / 3, 0.5, 0.5])
    assert metrics.ticket_weights_kept(mask, TICKET) == [0.5, 0.5, 1.0]
    assert metrics.ticket_density_profile(TICKET) == [2 / 6, 2 / 6, 1 / 2]
    s = metrics.per_layer_scores(mask, TICKET)
    assert s["f1"] == pytest.approx([2 / 5, 2 / 4, 2 / 3])
    assert s["jaccard"] == pytest.approx([1 / 4, 1 / 3, 1 / 2])
    assert r["precision"] == pytest.approx(3 / 7)
    assert r["recall"] == pytest.approx(3 / 5)
    assert r["f1"] == pytest.approx(6 / 12)
    assert r["jaccard"] == pytest.approx(3 / 9)
    # ticket neurons: h0 (x0 kept) yes, h1 (x1 missing) no, g0 (h1 missing) no, y (g0 kept) yes
    tn = metrics.ticket_neurons_recovered(mask, TICKET)
    assert (tn["recovered"], tn["total"], tn["fraction"]) == (2, 4, 0.5)
    assert tn["recovered_per_layer"] == [1, 0, 1] and tn["total_per_layer"] == [2, 1, 1]
    assert r["ticket_neurons_recovered"] == 0.5
    # effective: x0,x1 -> h0 -> g0 -> y and x1 -> h2 -> g0 -> y; g1 -> y is kept but nothing enters g1
    assert r["nominal_density"] == 7 / N
    assert r["effective_density"] == 6 / N
    assert r["contains_ticket"] is False


def test_degenerate_cases():
    empty = zeros_like(TICKET)
    assert metrics.precision(empty, TICKET) == 0.0
    assert metrics.recall(empty, TICKET) == 0.0
    assert metrics.f1(empty, TICKET) == 0.0
    assert metrics.jaccard(empty, TICKET) == 0.0
    assert metrics.nominal_density(empty) == metrics.effective_density(empty) == 0.0
    # empty ticket: recall 1 (vacuous), contained by every mask; empty vs empty: identical sets
    assert metrics.recall(TICKET, empty) == 1.0
    assert metrics.contains_ticket(empty, empty) is True
    assert metrics.f1(empty, empty) == metrics.jaccard(empty, empty) == 1.0
    assert metrics.precision(empty, empty) == 0.0
    assert metrics.ticket_neurons_recovered(empty, empty)["fraction"] == 1.0


def test_bad_masks_raise():
    with pytest.raises(MaskError):
        metrics.recovery_metrics({"layers.0.weight": TICKET["layers.0.weight"]}, TICKET)
    with pytest.raises(MaskError):
        metrics.effective_mask(mk([[1, 1]], [[1, 1, 1]]))  # 2->1 then 3->1 does not chain
    bad = dict(TICKET)
    bad["layers.1.weight"] = torch.ones(2, 2, dtype=torch.bool)
    with pytest.raises(MaskError):
        metrics.precision(bad, TICKET)


def test_normalized():
    assert metrics.normalized(0.5, dense=0.25, ticket=1.0, higher_is_better=True) == pytest.approx(1 / 3)
    assert metrics.normalized(0.25, 0.25, 1.0, True) == 0.0
    assert metrics.normalized(1.0, 0.25, 1.0, True) == 1.0
    # MSE: log10 scale, dense 1e0 -> 0, ticket 1e-4 -> 1, 1e-2 half way
    assert metrics.normalized(1e-2, dense=1.0, ticket=1e-4, higher_is_better=False) == pytest.approx(0.5)
    assert metrics.normalized(1e-4, 1.0, 1e-4, False) == pytest.approx(1.0)
    assert metrics.normalized(10.0, 1.0, 1e-4, False) == pytest.approx(-0.25)  # worse than dense: below 0
    assert metrics.normalized(1e-2, 1.0, 1e-4, False, log=False) == pytest.approx((1e-2 - 1) / (1e-4 - 1))
    # exact fit: MSE 0 is clamped to the floor
    assert metrics.normalized(0.0, 1.0, 0.0, False) == pytest.approx(1.0)
    # undefined scale
    assert math.isnan(metrics.normalized(0.5, 0.7, 0.7, True))
    assert math.isnan(metrics.normalized(0.5, 0.0, 0.0, False))
    assert math.isnan(metrics.normalized(float("nan"), 0.2, 0.9, True))


# --- against an independent slow implementation -------------------------------------------------------------------
def slow_reference(mask, ticket):
    """Python sets of edges (l, out, in); the effective edges by enumerating every input-output unit path."""
    names = list(ticket)
    widths = [ticket[names[0]].shape[1]] + [ticket[n].shape[0] for n in names]
    kept = {(l, j, i) for l, n in enumerate(names) for j in range(widths[l + 1]) for i in range(widths[l])
            if bool(mask[n][j, i])}
    tick = {(l, j, i) for l, n in enumerate(names) for j in range(widths[l + 1]) for i in range(widths[l])
            if bool(ticket[n][j, i])}
    effective = set()
    for units in itertools.product(*(range(w) for w in widths)):
        path = {(l, units[l + 1], units[l]) for l in range(len(names))}
        if path <= kept:
            effective |= path
    neurons = {(l, j) for (l, j, _) in tick}
    recovered = {(l, j) for (l, j) in neurons if {e for e in tick if e[:2] == (l, j)} <= kept}
    # reachable unit sets by enumerating partial paths from the inputs / to the outputs
    fwd = [set(range(widths[0]))]
    for l in range(len(names)):
        fwd.append({j for j in range(widths[l + 1]) if any((l, j, i) in kept for i in fwd[l])})
    bwd = {len(names): set(range(widths[-1]))}
    for l in reversed(range(len(names))):
        bwd[l] = {i for i in range(widths[l]) if any((l, j, i) in kept for j in bwd[l + 1])}
    collapsed = set()
    if not effective:
        collapsed.add(min(k for k in range(len(fwd)) if not fwd[k]) - 1)
        collapsed.add(max(k for k in range(len(fwd)) if not bwd[k]))
        collapsed |= {l for l in range(len(names)) if not any(e[0] == l for e in kept)}
    total = sum(widths[l] * widths[l + 1] for l in range(len(names)))
    both = kept & tick
    return {
        "precision": len(both) / len(kept) if kept else 0.0,
        "recall": len(both) / len(tick) if tick else 1.0,
        "f1": 2 * len(both) / (len(kept) + len(tick)) if kept or tick else 1.0,
        "jaccard": len(both) / len(kept | tick) if kept or tick else 1.0,
        "effective_density": len(effective) / total,
        "nominal_density": len(kept) / total,
        "contains_ticket": tick <= kept,
        "layer_collapse": not effective,
        "collapsed_layers": sorted(collapsed),
        "ticket_neurons_recovered": len(recovered) / len(neurons) if neurons else 1.0,
        "effective": effective,
        "per_layer_recall": [sum(e[0] == l for e in both) / sum(e[0] == l for e in tick)
                             if any(e[0] == l for e in tick) else 1.0 for l in range(len(names))],
    }


@pytest.mark.parametrize("seed", range(60))
def test_matches_slow_reference_on_random_masks(seed):
    g = torch.Generator().manual_seed(seed)
    depth = 2 + seed % 3  # 2..4 weight matrices
    widths = [int(w) for w in torch.randint(1, 5, (depth + 1,), generator=g)]
    p_mask = [0.15, 0.3, 0.5, 0.8][seed % 4]
    shapes = [(widths[l + 1], widths[l]) for l in range(depth)]
    mask = {f"layers.{l}.weight": torch.rand(s, generator=g) < p_mask for l, s in enumerate(shapes)}
    ticket = {f"layers.{l}.weight": torch.rand(s, generator=g) < 0.3 for l, s in enumerate(shapes)}
    if seed % 5 == 0:  # superset cases
        mask = {n: mask[n] | ticket[n] for n in mask}
    ref = slow_reference(mask, ticket)
    got = metrics.recovery_metrics(mask, ticket)
    for key in ["precision", "recall", "f1", "jaccard", "effective_density", "nominal_density",
                "ticket_neurons_recovered"]:
        assert got[key] == pytest.approx(ref[key]), key
    for key in ["contains_ticket", "layer_collapse", "collapsed_layers"]:
        assert got[key] == ref[key], key
    assert got["per_layer"]["recall"] == pytest.approx(ref["per_layer_recall"])
    eff = metrics.effective_mask(mask)
    eff_edges = {(l, int(j), int(i)) for l, n in enumerate(eff) for j, i in torch.nonzero(eff[n]).tolist()}
    assert eff_edges == ref["effective"]
    json.dumps(got)


# --- a real planted instance ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def circle():
    import plantseek

    return plantseek.plant("circle", depth=5, width=100, seed=0)


def test_real_instance_ticket_scores_itself(circle):
    r = metrics.recovery_metrics(circle.ticket, circle.ticket)
    assert r["recall"] == r["precision"] == r["f1"] == r["jaccard"] == 1.0
    assert r["effective_density"] == r["nominal_density"] == pytest.approx(circle.ticket_density)
    assert r["contains_ticket"] is True and r["layer_collapse"] is False
    assert r["ticket_neurons_recovered"] == 1.0
    assert metrics.ticket_neurons_recovered(circle.ticket, circle.ticket)["total_per_layer"] == [4, 2, 20, 4]
    assert r["per_layer"]["ticket_density"] == pytest.approx(
        [k / (a * b) for k, (a, b) in zip(circle.ticket_weights_per_layer, circle.arch.weight_shapes().values())])
    json.dumps(r)


def test_real_instance_dense_and_random_masks(circle):
    dense = {n: torch.ones_like(m) for n, m in circle.ticket.items()}
    r = metrics.recovery_metrics(dense, circle.ticket)
    assert r["recall"] == 1.0 and r["contains_ticket"] is True
    assert r["precision"] == pytest.approx(circle.ticket_density)
    assert r["nominal_density"] == r["effective_density"] == 1.0
    g = torch.Generator().manual_seed(0)
    sparse = {n: torch.rand(m.shape, generator=g) < 0.01 for n, m in circle.ticket.items()}
    r = metrics.recovery_metrics(sparse, circle.ticket)
    assert r["effective_density"] <= r["nominal_density"]
    assert metrics.effective_density(sparse) == r["effective_density"]
