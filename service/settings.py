"""Settings: one table of ``QINGLIU_*`` environment variables, each with its help text.

:class:`Settings` is a ``pydantic_settings.BaseSettings``: the library reads the variables (prefix
``QINGLIU_``, blank values ignored) and converts and validates every value by its type. An invalid
value raises :class:`~service.errors.ConfigurationError` naming the variable.

Building ``Settings(...)`` directly takes only the values given (tests, explicit callers);
:meth:`Settings.from_env` reads the environment. ``docs/settings.md`` lists every setting; a test
keeps the two in step.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources import PydanticBaseSettingsSource

from service.errors import ConfigurationError

__all__ = [
    "DASK_SCHEMES",
    "DEFAULT_ADDRESSEES",
    "DEFAULT_CNEMC_AREA",
    "DEFAULT_CNEMC_MAX_ANSWER_BYTES",
    "DEFAULT_CNEMC_MAX_PAGES",
    "DEFAULT_DAILY_AT",
    "DEFAULT_DATA_DIR",
    "DEFAULT_DOCUMENT_NUMBER_PATTERN",
    "DEFAULT_ISSUER_OFFICE",
    "DEFAULT_RAW_RETENTION_DAYS",
    "ENV_PREFIX",
    "Settings",
    "parse_interval",
]

ENV_PREFIX = "QINGLIU_"
DEFAULT_DATA_DIR = Path("qingliu-data")
SQLITE_FILE_NAME = "qingliu.db"
DEFAULT_DAILY_AT = dt.time(6, 0)
"""The morning job's time, Beijing time."""
DEFAULT_CNEMC_AREA = "131100"
"""``AreaID`` of Hengshui in the national publish API [V]."""
DEFAULT_CNEMC_MAX_PAGES = 20
"""Pages read per pull of the national publish API [A]: Hengshui needs 1, Hebei 1 (200 rows a
page), all of China about 8; a server claiming more is not followed beyond this."""
DEFAULT_CNEMC_MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""Largest answer read from the national publish API [bytes] [A]: a full page of 200 rows is
about 0.2 MiB."""

DEFAULT_RAW_RETENTION_DAYS = 400
"""Days a raw payload stays in the database [A]: a year of data for the annual assessment, its
re-computation and appeals, and a month's margin; older payloads move to archive files."""

DEFAULT_ISSUER_OFFICE = "衡水市生态环境局"
"""The office that issues statements and bulletins [A]: the compensation notices name the city
bureau of ecology and environment; the office that signs them is not public."""
DEFAULT_DOCUMENT_NUMBER_PATTERN = "衡环水〔{year}〕{seq}号"
"""The 文号 of a statement [A]: the bureau's own prefix and numbering are not public; ``{seq}``
is the month's number unless the office numbers its documents otherwise."""
DEFAULT_ADDRESSEES = "各县（市、区）人民政府，市财政局"
"""Who a statement is sent to (主送) [A]: the assessed counties and the finance bureau that
collects the money at the year-end settlement (domain.md §6)."""

DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
"""Address schemes of a Dask distributed scheduler (``tcp://host:8786``)."""

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> dt.timedelta:
    """An interval such as ``30m``, ``1h``, ``45s``, ``1d`` or a number of seconds.

    Raises
    ------
    ValueError
        When the text is not such an interval, or is not positive.

    Examples
    --------
    >>> parse_interval("30m")
    datetime.timedelta(seconds=1800)
    """
    match = _INTERVAL.match(text)
    if match is None:
        raise ValueError(f"间隔格式如 30m、1h、45s / interval like 30m, 1h, 45s, got {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"间隔必须大于 0 / interval must be positive, got {text!r}")
    return dt.timedelta(seconds=seconds)


def _interval_text(value: Any) -> Any:
    """Let ``30m`` through as a timedelta; other forms go to pydantic's own parser."""
    if isinstance(value, str) and _INTERVAL.match(value):
        return parse_interval(value)
    return value


Interval = Annotated[dt.timedelta, BeforeValidator(_interval_text)]
"""A positive duration: ``30m``, ``1h``, ``45s``, seconds, ISO 8601 (``PT30M``) or a timedelta."""


def _hour_padded(value: Any) -> Any:
    """``6:00`` → ``06:00`` (pydantic's time parser wants two-digit hours)."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d:\d\d\s*", value):
        return "0" + value.strip()
    return value


ClockTime = Annotated[dt.time, BeforeValidator(_hour_padded)]
"""A time of day, ``HH:MM`` (``H:MM`` accepted)."""


class _EnvironSource(EnvSettingsSource):
    """The library's environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        from pydantic_settings.sources.utils import parse_env_vars

        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Settings(BaseSettings):
    """Qingliu's settings; build with :meth:`from_env`, or directly with keywords in tests."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="数据目录：SQLite 数据库与原始报文存放处。"
        "Data directory (SQLite file, raw archive).",
    )
    database_url: str | None = Field(
        default=None,
        description="数据库地址（SQLAlchemy URL），如 postgresql+psycopg://user:pw@host/db；"
        "缺省为数据目录中的 SQLite 文件 qingliu.db。",
    )
    sections: Path | None = Field(
        default=None,
        description="断面名录文件（TOML）；缺省为内置的衡水名录。"
        "Registry file replacing the bundled one.",
    )
    chiefs: Path | None = Field(
        default=None,
        description="河长名录文件（TOML：河段、河长、预警通道、运维）；缺省为内置的衡水名录，"
        "须与所用断面名录一致。River-chief registry file replacing the bundled one.",
    )
    scheduler: bool = Field(
        default=True,
        examples=["on", "off"],
        description="服务内定时作业开关（on/off）：每日评价、月度汇总、国家平台拉取。"
        "Run the periodic jobs inside the service.",
    )
    daily_at: ClockTime = Field(
        default=DEFAULT_DAILY_AT,
        examples=["06:00"],
        description="每日作业时间 HH:MM（北京时间）/ daily job time, Asia/Shanghai.",
    )
    cnemc_every: Interval | None = Field(
        default=None,
        examples=["30m", "1h"],
        description="服务内拉取国家平台实时数据的间隔，如 30m；不设则不拉取。"
        "Pull the national publish API every interval (e.g. 30m); unset: no pulling.",
    )
    cnemc_area: str = Field(
        default=DEFAULT_CNEMC_AREA,
        examples=["131100"],
        pattern=r"^(\d{6})?$",
        description="国家平台行政区代码（131100 衡水，空为全国）/ AreaID of the pull.",
    )
    cnemc_max_pages: int = Field(
        default=DEFAULT_CNEMC_MAX_PAGES,
        ge=1,
        examples=["20"],
        description="每次拉取国家平台最多读取的页数（每页 200 行）；超出即停止并告警。"
        "Most pages read per pull of the national publish API; beyond it the pull stops and "
        "says so.",
    )
    cnemc_max_answer_bytes: int = Field(
        default=DEFAULT_CNEMC_MAX_ANSWER_BYTES,
        ge=1024,
        examples=["4194304"],
        description="国家平台单个应答的字节上限；超出即停止读取并告警。"
        "Largest answer [bytes] read from the national publish API; a larger one stops the pull.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="网页登录会话的签名密钥（至少 32 个字符）；缺省时每次启动随机生成。"
        "Key that signs sign-in cookies; by default a random one per start.",
    )
    public_view: bool = Field(
        default=False,
        description="公开只读视图（on/off）：未登录者可看监测页面与接口，补偿与复核仍须登录。"
        "Let anonymous visitors read the monitoring pages and API (never money or review).",
    )
    secure_cookies: bool = Field(
        default=True,
        description="会话 Cookie 只经 HTTPS 发送（本机 127.0.0.1 的浏览器亦接受）。"
        "Send the session cookie over HTTPS only.",
    )
    cnemc_url: str | None = Field(
        default=None,
        description="国家平台接口地址；缺省为国家地表水自动监测实时数据发布系统的接口。"
        "The publish API URL (tests or a mirror); default: the national system.",
    )
    dask_scheduler: str | None = Field(
        default=None,
        examples=["tcp://10.0.0.5:8786"],
        description="Dask distributed 调度器地址；设置后批处理作业（预报拟合等）分发到该集群，"
        "缺省在本机进程池中运行。Dask scheduler address for batch jobs; unset: a local "
        "process pool.",
    )

    alerts_base_url: str | None = Field(
        default=None,
        examples=["https://qingliu.example.cn"],
        description="本服务的公网地址（http/https），用于预警消息中的确认链接；不设则消息不带链接。"
        "Public URL of this service, for the acknowledgement links in alert messages.",
    )
    alert_link_secret: SecretStr | None = Field(
        default=None,
        description="签署预警确认链接的密钥（至少 32 个字符）；缺省用网页会话密钥，"
        "两者都未设置时消息不带链接。"
        "Key that signs the acknowledgement links of alert messages; default: the session key.",
    )
    alert_link_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 30,
        description="预警确认链接的有效期（小时）。How long an acknowledgement link works [h].",
    )
    smtp_host: str | None = Field(
        default=None,
        examples=["smtp.example.cn"],
        description="发送预警邮件的 SMTP 服务器；邮件通道须设置。"
        "SMTP server of the e-mail alert channels (needed by them).",
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        examples=["587", "465"],
        description="SMTP 端口；缺省 587（STARTTLS），465 为隐式 TLS（SMTPS）。"
        "SMTP port; default 587 (STARTTLS), 465 means implicit TLS.",
    )
    smtp_sender: str | None = Field(
        default=None,
        examples=["清流预警 <alerts@example.cn>"],
        description="预警邮件的发件人（地址，可带显示名）；邮件通道须设置。"
        "From address of alert mail (needed by the e-mail channels).",
    )
    smtp_username: str | None = Field(
        default=None,
        description="SMTP 登录用户名（与密码同设或同不设）；只经 TLS 登录。"
        "SMTP login name (with the password, or neither); sent over TLS only.",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        description="SMTP 登录密码（只从环境读取，不写入日志）。"
        "SMTP password (from the environment only, never logged).",
    )
    smtp_starttls: bool = Field(
        default=True,
        examples=["on", "off"],
        description="要求 SMTP 服务器支持 STARTTLS（on/off）；off 时服务器不提供则明文发送。"
        "Require STARTTLS on the SMTP server; off: plain text when it offers none.",
    )

    issuer_office: str = Field(
        default=DEFAULT_ISSUER_OFFICE,
        min_length=1,
        examples=["衡水市生态环境局"],
        description="通报与月报的发文机关（落款、版头）；缺省“衡水市生态环境局”为假设 [A]。"
        "Issuing office named on statements and bulletins.",
    )
    document_number_pattern: str = Field(
        default=DEFAULT_DOCUMENT_NUMBER_PATTERN,
        min_length=1,
        examples=["衡环水〔{year}〕{seq}号"],
        description="扣缴通报的文号格式，{year} 年份、{seq} 序号（缺省为月份）、{month} 月份；"
        "缺省格式为假设 [A]。Document-number pattern of statements ({year}, {seq}, {month}).",
    )
    addressees: str = Field(
        default=DEFAULT_ADDRESSEES,
        min_length=1,
        examples=["各县（市、区）人民政府，市财政局"],
        description="扣缴通报的主送机关；缺省“各县（市、区）人民政府，市财政局”为假设 [A]。"
        "Addressees of statements.",
    )

    appeal_days: int = Field(
        default=15,
        ge=1,
        le=365,
        examples=["15"],
        description="县（市、区）对已签发通报提出申诉的期限：签发后的天数（北京时间当日 24 时止）；"
        "缺省 15 天为假设 [A]。Days after a version is issued during which a county may appeal.",
    )

    raw_retention_days: int = Field(
        default=DEFAULT_RAW_RETENTION_DAYS,
        ge=0,
        examples=["400", "0"],
        description="原始报文在库中保留的天数：更早的报文每日写入压缩、带校验和的月归档文件，"
        "核验后才从库中移除报文内容（记录、哈希与观测值的来源编号保留）；0 表示永久保留在库中；"
        "缺省 400 天为假设 [A]。Days raw payloads stay in the database before they move to "
        "archive files; 0 keeps them forever.",
    )
    raw_archive_dir: Path | None = Field(
        default=None,
        description="原始报文归档目录；缺省为数据目录下的 raw-archive。"
        "几个服务进程共用一个数据库时，应指向它们共享的存储。"
        "Directory of the raw-message archive files (default DATA_DIR/raw-archive).",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword values only: the environment is read by :meth:`from_env`, never implicitly."""
        return (init_settings,)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(
                f"不是有效的数据库地址 / not a database URL: {value!r} "
                "(e.g. sqlite:///qingliu.db, postgresql+psycopg://…)"
            )
        return value

    @field_validator("daily_at")
    @classmethod
    def _local_time(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("写北京时间 HH:MM，不带时区 / give HH:MM Beijing time, no zone")
        return value

    @field_validator("cnemc_every")
    @classmethod
    def _positive(cls, value: dt.timedelta | None) -> dt.timedelta | None:
        if value is not None and value <= dt.timedelta(0):
            raise ValueError(f"间隔必须大于 0 / interval must be positive, got {value}")
        return value

    @field_validator("cnemc_url", "alerts_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"不是 http(s) 地址 / is not an http(s) URL: {value!r}")
        return value

    @field_validator("smtp_host", "smtp_sender", "smtp_username")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value.strip()

    @field_validator("dask_scheduler")
    @classmethod
    def _dask_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in DASK_SCHEMES or not parts.netloc:
            raise ValueError(
                f"不是 Dask 调度器地址 / not a Dask scheduler address: {value!r} "
                f"(scheme {', '.join(DASK_SCHEMES)})"
            )
        return value

    @field_validator("document_number_pattern")
    @classmethod
    def _number_pattern(cls, value: str) -> str:
        try:
            value.format(year=2025, seq=1, month=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"文号格式只能使用 {{year}}、{{seq}}、{{month}} / the pattern may use only "
                f"{{year}}, {{seq}}, {{month}}: {value!r} ({type(exc).__name__}: {exc})"
            ) from None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``QINGLIU_*`` variables (``os.environ`` by default).

        Keyword overrides win over the environment; an override of ``None`` is ignored (an
        option the user did not give).

        Raises
        ------
        ConfigurationError
            Naming the variable of an invalid value.
        """
        import os

        source = _EnvironSource(cls, os.environ if environ is None else environ)
        values = {**source(), **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values)

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the setting, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / SQLITE_FILE_NAME).resolve()}"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated like the original)."""
        return type(self)(**{**self.model_dump(), **changes})

    @classmethod
    def documentation(cls) -> dict[str, str]:
        """Environment variable name → help text, for the docs and ``--help``."""
        return {
            ENV_PREFIX + name.upper(): field.description or ""
            for name, field in cls.model_fields.items()
        }


def _describe(exc: ValidationError) -> str:
    """One line per invalid value, each naming its ``QINGLIU_`` variable."""
    lines = []
    for error in exc.errors(include_url=False):
        name = str((error.get("loc") or ("?",))[0])
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if error.get("type") != "value_error":  # our own messages already quote the value
            message += f" (got {error.get('input')!r})"
        field = Settings.model_fields.get(name)
        if field is not None and field.examples:
            message += "，例如 / e.g. " + ", ".join(map(str, field.examples))
        lines.append(f"{ENV_PREFIX}{name.upper()}: {message}")
    return "配置有误 / invalid setting: " + "；".join(lines)
