"""Re-plants the instance with the public ``plantseek.plant`` over seeds 0-24 (every task whose input and output
sizes fit, at the network's depth and width, default options and the smoke suite's 400 samples; with the
leaderboard key too, should it find one in its environment or the default key file) and returns the ticket of
the instance whose host weights equal the model's. Without a match it returns a uniformly random mask, which is
all it can do without the ground truth. On a public instance it finds the exact ticket; on a hidden one it must
not."""

import torch

import plantseek
from plantseek.planted.task import TASKS, DataConfig, get_task
from plantseek.prune.contract import get_pruner


def candidate_keys() -> list:
    from plantseek.planted.secrets import load_key

    try:
        return [None, load_key()]
    except Exception:  # noqa: BLE001 - no key reachable: public seeds only
        return [None]


class Replant:
    name = "replant"

    def prune(self, model, data, density, *, generator, budget):
        state = {n: p.detach() for n, p in model.state_dict().items()}
        weights = sorted((n for n in state if n.endswith(".weight")), key=lambda n: int(n.split(".")[1]))
        widths = [state[weights[0]].shape[1]] + [state[n].shape[0] for n in weights]
        depth, width = len(widths), widths[1]
        for task in TASKS.names():
            t = get_task(task)
            if (t.in_features, t.out_features) != (widths[0], widths[-1]):
                continue
            for key in candidate_keys():
                for seed in range(25):
                    inst = plantseek.plant(task, depth=depth, width=width, seed=seed, key=key,
                                           data=DataConfig(n_samples=400))
                    if all(torch.equal(inst.initial_state[n].to(v.dtype), v) for n, v in state.items()):
                        return inst.ticket
        return get_pruner("random").prune(model, data, density, generator=generator, budget=budget)
