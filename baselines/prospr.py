"""ProsPr (Alizadeh, Tailor, Zintgraf, van Amersfoort, Farquhar, Lane & Gal 2022, "Prospect Pruning: Finding
Trainable Weights at Initialization using Meta-Gradients", ICLR): single-shot scores from the meta-gradient of the
loss *after* a few training steps.

Update rule: a multiplier ``c = 1`` on every prunable weight, ``w_0 = c * theta_0`` (the host's initial parameters;
the biases start at theirs), then ``M`` steps of plain SGD ``w_{j+1} = w_j - eta * grad L_j(w_j)`` on prune batches
``B_1..B_M``, differentiated through (second order: ``create_graph``). The score of a weight is
``|dL_{M+1}(w_M) / dc|`` at ``c = 1``, the loss on a further batch ``B_{M+1}``: how much keeping the weight matters
for the loss a few steps into training, rather than at initialisation (SNIP). The top ``kept_count(d)`` scores are
kept (global, single-shot; :class:`plantseek.prune.schedules.ScorePruner`).

Hyper-parameters: ``M = 3`` inner steps as in the paper; batches of 256 training samples drawn with the pruner's
generator (:func:`plantseek.prune.schedules.score_batch`, one per step). Changed: ``eta = 0.003``. The paper uses its
training learning rate with SGD (0.1 on CIFAR); here that diverges (ReLU depth 5 width 100, seed 0: loss 10 -> 1e5
-> 2e15 -> inf in three steps, the scores NaN), 0.01 jumps to 174 before recovering, 0.003 ends lower on all three
tasks after three steps (ReLU 10.2 -> 1.05, Helix 4.3 -> 0.26, Circle 1.53 -> 1.46). The paper's iterative variant
(several rounds) is not implemented: single-shot only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import ScorePruner, device_mask, leaf_state, prepare_batch, score_batch


def meta_gradient(model, data, batches, lr: float, mask=None) -> dict[str, torch.Tensor]:
    """``dL(w_M)/dc`` at ``c = 1`` for every prunable weight: ``w_0 = c * theta`` (biases as they are), ``M =
    len(batches) - 1`` SGD steps of rate ``lr`` on the first batches (differentiated through), the loss on the last.
    ``batches``: ``(x, y)`` pairs; ``mask`` (optional) multiplies the weights throughout."""
    arch = model.arch
    state = leaf_state(model)
    prunable = list(arch.prunable_shapes())
    c = {n: torch.ones_like(state[n], requires_grad=True) for n in prunable}
    w = {n: (p.detach() * c[n] if n in c else p.detach().clone().requires_grad_(True)) for n, p in state.items()}
    mask = device_mask(mask, next(iter(w.values())).device)
    *inner, last = [prepare_batch(model, x, y) for x, y in batches]
    for x, y in inner:
        loss = data.loss(arch.forward(w, x, mask), y)
        grads = torch.autograd.grad(loss, list(w.values()), create_graph=True)
        w = {n: p - lr * g for (n, p), g in zip(w.items(), grads)}
    x, y = last
    final = data.loss(arch.forward(w, x, mask), y)
    return dict(zip(prunable, torch.autograd.grad(final, [c[n] for n in prunable])))


@dataclass
class ProsPr(ScorePruner):
    """Scores ``|dL(w_M)/dc|``: the meta-gradient of the loss after ``inner_steps`` SGD steps."""

    name: str = "prospr"
    description: str = "meta-gradient of the loss after 3 SGD steps (lr 0.003) w.r.t. a multiplier on each weight"
    inner_steps: int = 3
    inner_lr: float = 0.003
    batch_size: int = 256

    def score(self, model, data, *, generator, budget, mask):
        batches = [score_batch(data, generator, self.batch_size) for _ in range(self.inner_steps + 1)]
        return {n: g.abs() for n, g in meta_gradient(model, data, batches, self.inner_lr, mask).items()}


PRUNERS.register("prospr")(declared(ProsPr, tags={"modern"}, rank=23))
