"""Shared pytest configuration."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Tests marked `slow` (multi-GiB files) run only when EMBER_SLOW=1."""
    if os.environ.get("EMBER_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test; set EMBER_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
