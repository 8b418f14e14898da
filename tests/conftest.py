import os

import pytest
import torch

# Only the in-tree tasks, pruners and host families: an unrelated plug-in installed beside plantseek must not change
# what the tests see (tests of plug-in discovery unset it, tests/core/test_plugins.py and tests/test_toy_family.py).
os.environ["PLANTSEEK_PLUGINS"] = "builtin"

torch.set_num_threads(1)


@pytest.fixture
def one_torch_thread():
    """One torch thread during the test, as in the grid's worker processes (whatever an earlier test set)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
