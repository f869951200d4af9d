"""Settings: one object, read from `SMARTFACTORY_*` environment variables, overridden by CLI flags.

Flat settings use the prefix directly (`SMARTFACTORY_MQTT_URL`, `SMARTFACTORY_STORE`); sections use a double
underscore (`SMARTFACTORY_INGEST__BATCH_SIZE=500`). Unknown `SMARTFACTORY_*` variables are an error, so a typo
fails loudly instead of being ignored. `smartfactory config show` prints the effective values, secrets masked.
Every field is documented in docs/settings.md; a test fails when one is not.
"""

from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from smartfactory.errors import ConfigError

#: The repository root in a source checkout (holds simulators/ and dashboard/).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttSettings(_Section):
    qos: Literal[0, 1] = Field(1, description="QoS for telemetry publishes and subscriptions.")
    keepalive: int = Field(30, ge=5, description="MQTT keepalive in seconds.")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for the broker to accept a connection.")
    fast_reader: bool = Field(
        False,
        description="Opt-in: ingestion reads MQTT packets with its own parser on paho 2.x internals "
        "(faster for many small messages; see docs/ingestion.md). Off: paho's public API only.",
    )


class IngestSettings(_Section):
    client_id: str = Field(
        "",
        description="Fixed client id of the persistent session (names the spool and the health topic too); empty: "
        "smartfactory-ingest- and 16 random hex digits, made at the first start and kept in DATA_DIR/ingest-client-id.",
    )
    mqtt_port: int | None = Field(
        None, ge=1, le=65535, description="Broker port of ingestion's own connection; none: the port of mqtt_url."
    )
    group: str | None = Field(
        None, description="Shared-subscription group: workers with the same group split the load."
    )
    batch_size: int = Field(1000, ge=1, description="Most readings written in one batch.")
    flush_interval: float = Field(
        0.1, gt=0, le=10, description="Longest a batch collects before it is written (seconds)."
    )
    queue_size: int = Field(100_000, ge=100, description="Messages held in memory before back-pressure.")
    queue_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Payload bytes held in memory before back-pressure."
    )
    max_payload_bytes: int = Field(1_048_576, ge=64, description="Larger payloads are dead-lettered.")
    max_future_s: float = Field(86_400.0, ge=0, description="Reject timestamps further ahead than this.")
    chart_future_s: float = Field(
        5.0, ge=0, description="SPC charts only readings at most this far ahead of the receive clock (seconds)."
    )
    max_series: int = Field(20_000, ge=1, description="Most distinct series; readings of new ones are dead-lettered.")
    max_series_per_machine: int = Field(
        1000, ge=1, description="Most distinct series of one machine; new ones beyond are dead-lettered."
    )
    max_age_s: float = Field(10 * 365 * 86_400.0, ge=0, description="Reject timestamps older than this (seconds).")
    health_interval: float = Field(5.0, gt=0, description="Seconds between health messages.")
    reject_log_interval: float = Field(
        10.0, gt=0, description="At most one log line per rejection reason this often (seconds)."
    )
    spool_dir: Path | None = Field(None, description="Store-and-forward spool; default DATA_DIR/spool.")
    spool_max_bytes: int = Field(
        2 * 1024**3, ge=1024 * 1024, description="Largest spool; when full, messages wait at the broker."
    )
    spool_segment_bytes: int = Field(64 * 1024 * 1024, ge=4096, description="Size of one spool file.")
    sparkplug: bool = Field(
        True,
        description="Also be a Sparkplug B host application: take the spBv1.0/ messages (docs/wire.md, "
        '"Sparkplug B"). Off: they are ignored, not dead-lettered.',
    )
    sparkplug_host_id: str = Field(
        "smartfactory", min_length=1, description="Sparkplug host id: the retained STATE is on spBv1.0/STATE/{id}."
    )
    sparkplug_rebirth_interval: float = Field(
        5.0, ge=0, description="Seconds between two rebirth requests (NCMD) to the same edge node, at least."
    )


class SparkplugSettings(_Section):
    group_levels: int = Field(
        1,
        ge=1,
        le=3,
        description="ISA-95 levels in the Sparkplug group id (1: enterprise; the rest above the machine form the edge "
        "node id, site:area:line).",
    )
    node_device: str = Field(
        "_node",
        min_length=1,
        max_length=100,
        description="Machine name of an edge node's own metrics (NBIRTH/NDATA, no device).",
    )


class SimSettings(_Section):
    dir: Path = Field(PROJECT_ROOT / "simulators", description="Folder of simulator files and plant configs.")
    plant: str = Field("default", description="Plant config name (simulators/plants/NAME.toml) or a path.")
    seed: int = Field(42, description="Seed of every random choice; same seed, same readings.")
    speed: float = Field(1.0, ge=0, description="Simulated seconds per wall-clock second (0 = as fast as possible).")


class SpcSettings(_Section):
    detector: Literal["budget", "we"] = Field(
        "budget",
        description="Live SPC design: budget (detectors designed to budget_per_hour; docs/spc.md) or we (the old "
        "individuals chart with Western Electric rules, for the lecture's before-and-after).",
    )
    budget_per_hour: float = Field(
        0.25,
        gt=0,
        description="False alarms per plant-hour the live monitor is designed for, in control (budget); "
        "measured trade-off in docs/spc.md.",
    )
    phase1_points: int = Field(
        500,
        ge=10,
        description="Readings (parts) per series used to learn its limits (phase I); the design allows for it.",
    )
    phase1_max_s: float = Field(
        1800.0,
        gt=0,
        description="Longest a phase I may take (seconds of running): a slower series learns from fewer points "
        "(at least 30) with a design for that, unless a limits file gives its limits.",
    )
    warmup_s: float = Field(
        60.0,
        ge=0,
        description="Seconds after a machine restarts before signals without a declared time constant are charted "
        "(signals with one wait until they settle).",
    )
    subgroup_size: int = Field(
        1, ge=1, le=25, description="Fast parts (every < 5 s) in rational subgroups of this size (X̄-S); 1: individuals."
    )
    rules: str = Field(
        "we", description="Run rules of the we design: we, nelson, all or ids; none switches the live monitor off."
    )
    watch: str = Field(
        "*", description="Series the live monitor watches: comma-separated glob patterns, e.g. */diameter,*/fill_*."
    )
    clear_after_s: float = Field(
        10.0, gt=0, description="An SPC alarm clears after this many seconds without a detection (at least)."
    )
    clear_after_points: int = Field(
        50,
        ge=1,
        description="An SPC alarm also waits this many of its series' points (readings, parts) without a detection "
        "to clear.",
    )
    limits_file: Path | None = Field(
        None, description="TOML file of configured limits per series (they win over learned ones)."
    )
    shipped_limits: bool = Field(
        True,
        description="Without limits_file: use the plant's shipped limits file, SIM__DIR/limits/PLANT.toml, if any.",
    )


class DashboardSettings(_Section):
    host: str = Field("127.0.0.1", description="Address Streamlit binds to; 0.0.0.0 exposes it in a lab.")
    port: int = Field(8501, ge=1, le=65535, description="Port of the dashboard.")
    refresh: float = Field(2.0, gt=0, description="Seconds between live refreshes.")
    classroom_dir: Path | None = Field(
        None,
        description="Class folder (`smartfactory classroom init`): viewers sign in with their roster credentials, "
        "a student sees only their namespace, the lecturer the class overview. None: no sign-in.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMARTFACTORY_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL: mqtt://[user:pass@]host:port.")
    store: str = Field(
        "sqlite:///data/smartfactory.db", description="Store URL: sqlite:///path.db or influxdb://host:port?…"
    )
    data_dir: Path = Field(Path("data"), description="Folder for the default store, spool and broker data.")
    influx_token: SecretStr | None = Field(None, description="InfluxDB API token (never put it in a URL).")
    retention_days: float | None = Field(
        None, gt=0, description="SQLite: delete data older than this many days (none: keep all)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    mqtt: MqttSettings = MqttSettings()
    ingest: IngestSettings = IngestSettings()
    sim: SimSettings = SimSettings()
    spc: SpcSettings = SpcSettings()
    dashboard: DashboardSettings = DashboardSettings()
    sparkplug: SparkplugSettings = SparkplugSettings()

    @model_validator(mode="after")
    def _stored_ingest_client_id(self) -> Settings:
        """An empty ingest.client_id: the one ingestion made at its first start in this data folder, if any."""
        if not self.ingest.client_id:
            stored = read_ingest_client_id(self.data_dir)
            if stored:
                self.ingest = self.ingest.model_copy(update={"client_id": stored})
        return self


#: Where ingestion keeps the client id it made for itself (an empty `ingest.client_id`), in DATA_DIR.
INGEST_ID_FILE = "ingest-client-id"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def read_ingest_client_id(data_dir: Path) -> str:
    """The client id kept in DATA_DIR/ingest-client-id; "" when there is none (or it is not a plain id)."""
    try:
        stored = (data_dir / INGEST_ID_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return stored if 0 < len(stored) <= 64 and set(stored) <= _ID_CHARS else ""


def ensure_ingest_client_id(settings: Settings) -> Settings:
    """`settings` with a client id for ingestion: the configured one, else the one kept in the data folder, else a
    new one (smartfactory-ingest- and 16 random hex digits, 64 bits nobody can guess), kept there for every restart
    so the persistent session and the spool stay the same. Two first starts at once agree (exclusive create)."""
    if settings.ingest.client_id:
        return settings
    path = settings.data_dir / INGEST_ID_FILE
    made = f"smartfactory-ingest-{secrets.token_hex(8)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(made + "\n")
    except FileExistsError:
        made = read_ingest_client_id(settings.data_dir)
        if not made:
            raise ConfigError(
                f"{path} does not hold a client id; delete it or set SMARTFACTORY_INGEST__CLIENT_ID"
            ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot keep ingestion's client id in {path} ({exc}); set SMARTFACTORY_INGEST__CLIENT_ID"
        ) from None
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"client_id": made})})


ENV_PREFIX = "SMARTFACTORY_"
#: Variables with our prefix that are not settings (read by the test suite only).
_NOT_SETTINGS = frozenset({"SMARTFACTORY_TEST_BROKER", "SMARTFACTORY_INFLUX_URL", "SMARTFACTORY_INFLUX_ORG"})


def known_env_names() -> list[str]:
    """Every environment variable a setting can be read from."""
    names: list[str] = []
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            names.extend(f"{ENV_PREFIX}{name}__{sub}".upper() for sub in annotation.model_fields)
        else:
            names.append(f"{ENV_PREFIX}{name}".upper())
    return names


def _check_env(environ: Mapping[str, str]) -> None:
    known = set(known_env_names()) | _NOT_SETTINGS
    for key in environ:
        if key.upper().startswith(ENV_PREFIX) and key.upper() not in known:
            close = difflib.get_close_matches(key.upper(), known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown setting {key} in the environment{hint} (docs/settings.md lists them)")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with CLI overrides (None values are ignored)."""
    _check_env(os.environ)
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}. Check SMARTFACTORY_* variables and flags (docs/settings.md lists them)."
        ) from None


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def url(self, *, masked: bool = True) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        auth = ""
        if self.username:
            secret = "***" if masked else (self.password or "")
            auth = f"{self.username}:{secret}@" if self.password else f"{self.username}@"
        return f"{scheme}://{auth}{self.host}:{self.port}"


def mask_url_password(url: str) -> str:
    """`url` with its password replaced by `***`, for messages about a URL that may not even parse (issue 13: a
    typo in the port printed the password). Everything between the first `:` after the user name and the last
    `@` counts as the password, so a password with unquoted `/`, `@` or `#` is masked too."""
    scheme, sep, rest = url.partition("://")
    prefix = f"{scheme}{sep}" if sep else ""
    userinfo, at, host = (rest if sep else url).rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{prefix}{user}:***@{host}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """`mqtt://[user:pass@]host[:port]` (default port 1883) or `mqtts://…` (default 8883). Errors mask the password."""
    shown = repr(mask_url_password(url))
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ConfigError(f"MQTT URL {shown} is not a URL ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"MQTT URL {shown} is not of the form mqtt://[user:pass@]host:port")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"MQTT URL {shown} has an invalid port") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with secrets (token, MQTT password) masked."""
    data = settings.model_dump(mode="json")
    data["mqtt_url"] = parse_mqtt_url(settings.mqtt_url).url(masked=True)
    data["influx_token"] = "***" if settings.influx_token else None
    return data
