"""With prunable biases, plantseek's single-shot scores on a planted Helix host (depth 5, width 100) equal a
reference-style computation written independently (``reference_style.py``: module masks, float32, the reference's
threshold rule), biases included, and so do the masks up to the reference's rounding of the kept count."""

import pytest
import torch

from plantseek import plant
from plantseek.prune.contract import get_pruner
from plantseek.prune.schedules import score_batch
from plantseek.train.config import TrainConfig

from tests.prune.reference_style import SCORES, MaskedMLP, overlap, reference_mask

PAPER = TrainConfig(prunable_biases=True)


@pytest.fixture(scope="module")
def helix():
    return plant("helix", depth=5, width=100, seed=0)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_scores_and_masks_with_biases_match_the_reference_style_computation(helix, name):
    data = helix.pruner_data()
    x, y = score_batch(data, torch.Generator().manual_seed(7), 256)
    model = MaskedMLP(helix.initial_state, helix.arch.n_layers)
    params = list(model.masked_parameters(prune_bias=True))
    theirs = SCORES[name](model, params, x.float(), y.float(), helix.task.loss)
    ours = get_pruner(name).scores(helix.host(), data, generator=torch.Generator().manual_seed(7), budget=PAPER,
                                   mask=None)
    assert set(ours) == set(theirs)
    scale = max(float(s.abs().max()) for s in theirs.values())
    for n in ours:
        torch.testing.assert_close(ours[n].double(), theirs[n].double(), rtol=2e-3, atol=1e-5 * scale)
    mask = get_pruner(name).prune(helix.host(), data, 0.1, generator=torch.Generator().manual_seed(7), budget=PAPER)
    reference = reference_mask(helix, name, 0.1, x, y, prune_bias=True)
    assert overlap(mask, reference) > 0.995  # the reference keeps n - int(0.9 n), one entry more here
