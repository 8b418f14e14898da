"""Test-only post-training pruners (file references, loaded in the sandboxed workers only)."""

import torch


def _first(model, density):
    from plantseek.nets.masks import kept_count

    total = sum(p.numel() for p in model.prunable().values())
    flat = torch.zeros(total, dtype=torch.bool)
    flat[: kept_count(density, total)] = True
    out, start = {}, 0
    for n, p in model.prunable().items():
        out[n] = flat[start:start + p.numel()].reshape(p.shape)
        start += p.numel()
    return out


class SeesCalibration:
    """Raises unless its data are exactly the 32 calibration samples."""

    name = "sees-calibration"
    protocol = "post-training"

    def prune(self, model, data, density, *, generator, budget):
        if data.x.shape[0] != 32 or data.y.shape[0] != 32:
            raise RuntimeError(f"got {data.x.shape[0]} samples, not the 32 calibration samples")
        return _first(model, density)


class NaNWeights:
    name = "nan-weights"
    protocol = "post-training"

    def prune(self, model, data, density, *, generator, budget):
        from plantseek.prune.posttraining import PostTrainingResult

        w = {n: torch.full_like(p, float("nan")) for n, p in model.prunable().items()}
        return PostTrainingResult(_first(model, density), w)


class ForeignWeights:
    name = "foreign-weights"
    protocol = "post-training"

    def prune(self, model, data, density, *, generator, budget):
        from plantseek.prune.posttraining import PostTrainingResult

        return PostTrainingResult(_first(model, density), {"ticket": torch.zeros(3)})
