"""The paper's full grids end to end (slow: python -m pytest tests/run/test_paper_grids.py --runslow).

Wall-clock targets live in `python -m plantseek bench`, not here; these only check that every cell completes.
"""

import pytest

from plantseek.run.grid import expand, run_cells
from plantseek.run.suites import SUITES


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["paper-singleshot", "paper-multishot"])
def test_paper_grid_completes(suite, tmp_path):
    from plantseek.store.results import ResultStore

    cells = expand(SUITES.get(suite))
    with ResultStore(tmp_path / "r.db") as store:
        results = run_cells(cells, store=store, jobs=2)
        assert len(store) == len(cells)
    assert all(r.status == "ok" for _, r in results), [r.error for _, r in results if r.status != "ok"][:3]
