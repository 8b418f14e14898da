"""Returns a valid mask, then a background thread sets it all True 20 ms later."""
import threading
import time

from plantseek.prune.contract import get_pruner


class FlipThread:
    name = "flip-thread"

    def prune(self, model, data, density, *, generator, budget):
        mask = get_pruner("random").prune(model, data, density, generator=generator, budget=budget)

        def flip():
            time.sleep(0.02)
            for m in mask.values():
                m.fill_(True)

        threading.Thread(target=flip, daemon=True).start()
        return mask
