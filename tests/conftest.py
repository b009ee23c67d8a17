"""One fixture for every test: a fresh mocked Pulumi runtime that records registrations."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Harness  # noqa: E402


@pytest.fixture
def pulumi_mocks() -> Harness:
    """A new runtime per test, so no root stack, config or registration leaks between tests."""
    return Harness()
