"""Each package's ``__all__`` is sorted and names only what exists."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["sections", "compensation", "service"])
def test_all_is_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name), name
