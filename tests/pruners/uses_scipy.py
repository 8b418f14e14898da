"""An honest pruner that loads scipy's own BLAS inside its worker (after the sandbox is in place)."""
import numpy as np


class UsesScipy:
    name = "uses-scipy"

    def prune(self, model, data, density, *, generator, budget):
        from scipy.sparse import identity
        from scipy.sparse.linalg import spsolve

        from plantseek.nets.masks import select_top

        assert float(spsolve(identity(3, format="csc"), np.ones(3)).sum()) == 3.0
        scores = {n: p.detach().abs() for n, p in model.prunable().items()}
        return select_top(scores, density)
