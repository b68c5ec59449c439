"""Settings: read from the environment, validated, and all documented in docs/settings.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import ConfigurationError
from service.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text("utf-8")
    for variable in Settings.documentation():
        assert f"`{variable}`" in text, variable


def test_defaults_use_a_sqlite_file_in_qingliu_data() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path("qingliu-data")
    assert settings.effective_database_url == (
        f"sqlite:///{(Path('qingliu-data') / 'qingliu.db').resolve()}"
    )


def test_environment_selects_directory_database_and_registry(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "QINGLIU_DATA_DIR": str(tmp_path),
            "QINGLIU_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "QINGLIU_SECTIONS": "mine.toml",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert settings.sections == Path("mine.toml")


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"QINGLIU_SECTIONS": "a.toml"}, sections=Path("b.toml"))
    assert settings.sections == Path("b.toml")


def test_invalid_database_url_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="QINGLIU_DATABASE_URL"):
        Settings.from_env({"QINGLIU_DATABASE_URL": "qingliu.db"})
