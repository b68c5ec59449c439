"""Settings: read from the environment, validated, and all documented in docs/settings.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

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


def test_types_are_converted_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "QINGLIU_SCHEDULER": "off",
            "QINGLIU_DAILY_AT": "7:30",
            "QINGLIU_CNEMC_EVERY": "30m",
            "QINGLIU_CNEMC_AREA": "130000",
            "QINGLIU_CNEMC_URL": "http://127.0.0.1:8070/GJZ/Ajax/Publish.ashx",
            "QINGLIU_SECTIONS": "",  # blank counts as unset
            "QINGLIU_STATION_PASSWORD": "not a setting of the service",
        }
    )
    assert settings.scheduler is False
    assert settings.daily_at == dt.time(7, 30)
    assert settings.cnemc_every == dt.timedelta(minutes=30)
    assert settings.cnemc_area == "130000" and settings.sections is None
    assert settings.cnemc_url == "http://127.0.0.1:8070/GJZ/Ajax/Publish.ashx"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", dt.timedelta(seconds=45)), ("1h", dt.timedelta(hours=1)),
     ("90", dt.timedelta(seconds=90)), ("PT30M", dt.timedelta(minutes=30))],
)  # fmt: skip
def test_intervals_in_several_forms(text: str, expected: dt.timedelta) -> None:
    assert Settings.from_env({"QINGLIU_CNEMC_EVERY": text}).cnemc_every == expected


def test_defaults_of_the_scheduler_settings() -> None:
    settings = Settings.from_env({})
    assert settings.scheduler is True and settings.daily_at == dt.time(6, 0)
    assert settings.cnemc_every is None and settings.cnemc_area == "131100"
    assert settings.cnemc_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("QINGLIU_SCHEDULER", "maybe"),
        ("QINGLIU_DAILY_AT", "six"),
        ("QINGLIU_DAILY_AT", "25:00"),
        ("QINGLIU_CNEMC_EVERY", "soon"),
        ("QINGLIU_CNEMC_EVERY", "0m"),
        ("QINGLIU_CNEMC_AREA", "衡水"),
        ("QINGLIU_CNEMC_URL", "szzdjc.cnemc.cn"),
        ("QINGLIU_DATABASE_URL", "qingliu.db"),
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable) as caught:
        Settings.from_env({variable: value})
    assert "配置有误" in str(caught.value)


def test_keyword_construction_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLIU_SCHEDULER", "off")
    assert Settings().scheduler is True
    assert Settings.from_env().scheduler is False


def test_unknown_keywords_and_bad_changes_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="QINGLIU_SCHEDULR"):
        Settings(schedulr=False)
    settings = Settings(scheduler=False)
    with pytest.raises(ConfigurationError, match="QINGLIU_DAILY_AT"):
        settings.with_(daily_at="noon")
    assert settings.with_(scheduler=True).scheduler is True and settings.scheduler is False


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.scheduler = False


def test_every_setting_is_described() -> None:
    for variable, text in Settings.documentation().items():
        assert variable.startswith("QINGLIU_") and text.strip(), variable


def test_national_api_paging_bounds() -> None:
    settings = Settings.from_env(
        {"QINGLIU_CNEMC_MAX_PAGES": "3", "QINGLIU_CNEMC_MAX_ANSWER_BYTES": "100000"}
    )
    assert (settings.cnemc_max_pages, settings.cnemc_max_answer_bytes) == (3, 100_000)
    assert Settings.from_env({}).cnemc_max_pages == 20
    with pytest.raises(ConfigurationError, match="QINGLIU_CNEMC_MAX_PAGES"):
        Settings.from_env({"QINGLIU_CNEMC_MAX_PAGES": "0"})
