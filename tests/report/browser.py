"""What the browser tests share: Debian's chromium driven by Playwright for Python, and one rule for its absence.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; another path: ``PLANTSEEK_CHROMIUM``) and the
``playwright`` Python package (``pip install playwright``); no ``playwright install`` (no browser download). A test
that needs them calls :func:`require_browser` first: skipped without them, a failure where
``PLANTSEEK_REQUIRE_BROWSER=1`` (CI sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PLANTSEEK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def unavailable(reason: str):
    """Skip, or fail in CI (``PLANTSEEK_REQUIRE_BROWSER=1``: there a missing browser is a failure)."""
    if os.environ.get("PLANTSEEK_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_browser() -> None:
    """Skip (or fail in CI) unless chromium and Playwright for Python are both here."""
    if not Path(CHROMIUM).exists():
        unavailable(f"no chromium at {CHROMIUM} (CI: apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright for Python is not installed (CI: pip install playwright)")
