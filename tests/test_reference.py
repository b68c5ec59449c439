"""Missing reference data, PostgreSQL or Chromium: skipped on a developer machine, fail in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reference import require


def test_missing_reference_data_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require(Path("/nonexistent/shared/data"))


def test_missing_reference_data_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="absent"):
        require(Path("/nonexistent/shared/data"))


def test_present_reference_data_is_returned(tmp_path: Path) -> None:
    assert require(tmp_path) == tmp_path
