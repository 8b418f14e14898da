"""Every registered pruner on a host of any architecture: its masks at two densities, validated exactly; a pruner
tagged ``mlp-only`` (e.g. layer-pruning) fails on any other host with one line naming it (a post-training pruner on
a host whose layer inputs it cannot read: the one-line refusal instead)."""

import pytest
import torch

from plantseek.core.errors import PrunerError
from plantseek.families.mlp.network import Architecture
from plantseek.prune.contract import check_pruner, get_pruner, protocol_of, tags_of
from plantseek.nets.masks import kept_count, validate_mask
from plantseek.train.config import TrainConfig


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def check_masks_of(name, arch, params, data, densities) -> None:
    """``name``'s masks on ``arch`` at ``densities`` (through ``prune_batch`` where it has one), each validated. The
    post-training pruners read layer inputs of the MLP host only: on any other host each refuses with one line."""
    pruner = check_pruner(get_pruner(name), name)
    budget = TrainConfig(epochs=1, batch_size=32)
    host = arch.build(params)
    if protocol_of(pruner) == "post-training" and not isinstance(arch, Architecture):
        try:
            result = pruner.prune(host, data, densities[0], generator=gen(0), budget=budget)
        except PrunerError as err:  # cannot read this host's layer inputs, or its weights are not 2-D
            assert "not supported" in str(err) and "\n" not in str(err)
            return
        mask = getattr(result, "mask", result)  # magnitude-posttraining needs no inputs: any 2-D weights
        validate_mask(mask, arch.prunable_shapes(), kept_count(densities[0], arch.n_prunable), arch.bias_shapes())
        return
    batch = getattr(pruner, "prune_batch", None)
    if "mlp-only" in tags_of(pruner) and not isinstance(arch, Architecture):
        with pytest.raises(PrunerError, match=f"^{name} applies to the MLP hosts only [^\n]*$"):
            pruner.prune(host, data, densities[0], generator=gen(0), budget=budget)
        return
    if callable(batch):
        masks = batch(host, data, densities, generators=[gen(i) for i in range(len(densities))], budget=budget)
    else:
        masks = [pruner.prune(host, data, d, generator=gen(i), budget=budget) for i, d in enumerate(densities)]
    for d, m in zip(densities, masks):
        validate_mask(m, arch.prunable_shapes(), kept_count(d, arch.n_prunable), arch.bias_shapes())
