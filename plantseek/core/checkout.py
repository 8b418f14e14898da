"""Running from a source checkout: ``plantseek.tasks`` and ``plantseek.baselines`` from the repository's folders.

The plug-in folders ``tasks/`` and ``baselines/`` sit at the repository top. An install puts them inside the
package (pyproject.toml's ``package-dir``; an editable install maps them with setuptools' finder). Run from a
checkout without installing (``python -m plantseek`` at the repository root, or the root on ``PYTHONPATH``), the
package has no such sub-packages; :class:`CheckoutPluginFinder` supplies them, for exactly these two names, from
the checkout that holds the imported ``plantseek``. Standard library only: it is installed while ``plantseek``
itself is being imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path
from typing import Sequence

PLUGIN_FOLDERS = {"plantseek.tasks": "tasks", "plantseek.baselines": "baselines"}


class CheckoutPluginFinder(importlib.abc.MetaPathFinder):
    """Finds the two plug-in packages in the folders of one repository checkout."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        folder = PLUGIN_FOLDERS.get(fullname)
        if folder is None:
            return None
        init = self.root / folder / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[str(init.parent)])


def map_checkout_plugins(package_dir: Path) -> None:
    """Install the finder when the imported package (at ``package_dir``) lies in a checkout, not an install.

    It goes first on ``sys.meta_path`` so that the plug-ins come from the same checkout as the package even when
    another copy of plantseek is installed (editable) in the environment.
    """
    root = package_dir.parent
    if (package_dir / "tasks").is_dir() or not (root / "pyproject.toml").is_file():
        return
    if not any(isinstance(f, CheckoutPluginFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CheckoutPluginFinder(root))
