import os

import pytest
import torch

# Only the in-tree tasks, pruners and host families: an unrelated plug-in installed beside plantseek must not change
# what the tests see (tests of plug-in discovery unset it, tests/core/test_plugins.py and tests/test_toy_family.py).
os.environ["PLANTSEEK_PLUGINS"] = "builtin"

torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
