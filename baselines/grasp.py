"""GraSP (Wang, Zhang & Grosse 2020): gradient signal preservation, scores from the Hessian-gradient product.

With ``g`` the gradient of the task loss on the outputs divided by the temperature ``T = 200`` (logits for
classification, raw outputs for regression) and ``H`` its Hessian with respect to the weights, GraSP's score is
``S(-θ) = -θ ⊙ Hg``: removing weight q changes the gradient norm ``‖g‖²`` by about ``-2 θ_q (Hg)_q``. GraSP
removes the weights with the *largest* ``-θ ⊙ Hg`` (their removal reduces gradient flow least, or raises it)
and so keeps those with the *smallest* ``-θ ⊙ Hg``. Since selection keeps the highest scores, this pruner's
score is ``θ ⊙ Hg`` (signed, no absolute value): **the kept end is the largest θ ⊙ Hg**.

``Hg`` is computed by double backpropagation on one prune batch of ``batch_size`` (256) training samples drawn
with the pruner's generator (:func:`plantseek.prune.schedules.score_batch`): ``Hg = ∇_θ (∇_θ L · stopgrad(∇_θ L))``.
``grasp-local`` keeps the paper's layer-wise density variant. With prunable biases (the budget's
``prunable_biases``) the biases join θ: ``g``, ``Hg`` and the gradient norm run over weights and biases together
(as the reference code's masked parameters), and a bias scores ``b ⊙ (Hg)_b``, ranked with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.schedules import (ScorePruner, device_mask, leaf_state, prepare_batch, prunable_parameters,
                                       score_batch)
from plantseek.prune.variants import register_score_pruner

TEMPERATURE = 200.0


def hessian_gradient(model, data, x, y, mask=None, temperature: float = TEMPERATURE,
                     budget=None) -> tuple[dict, dict, dict]:
    """``(θ, g, Hg)`` for the prunable parameters of ``model`` (the weights; the biases too when ``budget`` makes
    them prunable), masked by ``mask``, on the batch ``(x, y)``, with ``L = data.loss(model(x) / temperature, y)``;
    every other parameter is a constant."""
    state = leaf_state(model, budget=budget)
    x, y = prepare_batch(model, x, y)
    names = list(prunable_parameters(model, budget))
    params = [state[n] for n in names]
    out = model.arch.forward(state, x, device_mask(mask, x.device))
    loss = data.loss(out / temperature, y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    z = sum((gr * gr.detach()).sum() for gr in grads)
    hg = torch.autograd.grad(z, params, allow_unused=True)
    hg = [torch.zeros_like(p) if h is None else h for p, h in zip(params, hg)]
    theta = {n: state[n].detach() for n in names}
    return theta, {n: gr.detach() for n, gr in zip(names, grads)}, dict(zip(names, hg))


@dataclass
class GraSP(ScorePruner):
    """Scores ``θ ⊙ Hg`` (signed): the weights with the largest ``θ ⊙ Hg`` are kept, i.e. GraSP removes those
    with the largest ``-θ ⊙ Hg``."""

    name: str = "grasp"
    description: str = "gradient signal preservation: keeps the largest θ ⊙ Hg (temperature 200, 256 samples)"
    batch_size: int = 256
    temperature: float = TEMPERATURE

    def score(self, model, data, *, generator, budget, mask):
        x, y = score_batch(data, generator, self.batch_size)
        theta, _, hg = hessian_gradient(model, data, x, y, mask, self.temperature, budget)
        return {n: theta[n] * hg[n] for n in theta}


register_score_pruner(GraSP, name="grasp", tags={"paper"}, rank=3, variants=("local", "multishot"))
