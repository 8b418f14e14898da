"""Patches its worker's reply at import: every answer says 0 s and 0 counted passes; then spends CPU honestly."""
import time

from plantseek.prune.contract import get_pruner
from plantseek.run.isolation import prune_worker

_write = prune_worker.write_reply


def _forged(obj):
    entries = obj.get("results", [obj]) if isinstance(obj, dict) else []
    for entry in entries:
        if isinstance(entry, dict) and "seconds" in entry:
            entry["seconds"] = 0.0
            entry["spent"] = {"train_sample_passes": 0, "score_forward_samples": 0, "score_backward_samples": 0}
    return obj


prune_worker.write_reply = lambda fd, obj: _write(fd, _forged(obj))


class ComputeForgery:
    name = "compute-forgery"

    def prune(self, model, data, density, *, generator, budget):
        t0 = time.process_time()
        while time.process_time() - t0 < 0.4:  # 0.4 CPU s the parent must see
            sum(range(1000))
        return get_pruner("random").prune(model, data, density, generator=generator, budget=budget)
