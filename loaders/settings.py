"""Settings: every LEADLINK_* / KNOWLARITY_* / META_* environment variable, read and checked once
(`Settings.from_environ()`), then passed down explicitly. No other module reads the environment for
configuration.

An empty variable counts as unset (its default applies). A value that does not parse (a port that
is not a number, a negative timeout) raises SettingsError naming the variable and what it expects;
the CLI turns that into one line and exit 3. Missing credentials are not an error here: a source
without them is simply not configured (the commands that need them say which to set).
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from loaders.sources import SPECS, Source

DEFAULT_EMBEDDED_PORT = 54329
T = TypeVar("T")


class SettingsError(ValueError):
    """One or more environment variables hold values that do not parse. `problems` has one line per
    variable, each starting with its name; values of secrets are never included."""

    def __init__(self, problems: list[str], log_format: str = "text") -> None:
        super().__init__("invalid settings: " + "; ".join(problems))
        self.problems = problems
        self.log_format = log_format  # as parsed, so the error itself can be reported in it


class _Reader:
    """Parses variables from one mapping, collecting every problem before raising."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value not in (None, "") else None

    def text(self, name: str, default: str) -> str:
        return (self.raw(name) or default).strip() or default

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def _parse(self, name: str, default: T, parse: Callable[[str], T], expects: str,
               secret: bool = False) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value.strip())
        except (TypeError, ValueError):
            shown = "" if secret else f", got {value!r}"
            self.problems.append(f"{name} must be {expects}{shown}")
            return default

    def integer(self, name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
        def parse(value: str) -> int:
            number = int(value)
            if number < minimum or (maximum is not None and number > maximum):
                raise ValueError
            return number

        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        return self._parse(name, default, parse, f"an integer {bounds}")

    def optional_integer(self, name: str, minimum: int = 1) -> int | None:
        if self.raw(name) is None:
            return None
        return self.integer(name, 0, minimum)

    def number(self, name: str, default: float, *, positive: bool = False) -> float:
        def parse(value: str) -> float:
            number = float(value)
            if not math.isfinite(number) or number < 0 or (positive and number == 0):
                raise ValueError
            return number

        return self._parse(name, default, parse,
                           "a number > 0" if positive else "a number >= 0")

    def arguments(self, name: str) -> tuple[str, ...]:
        """A shell-quoted argument list (`--exclude "tag:nightly"`)."""
        return self._parse(name, (), lambda value: tuple(shlex.split(value)),
                           "a shell-quoted argument list")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(value: str) -> str:
            if value.lower() not in choices:
                raise ValueError
            return value.lower()

        return self._parse(name, default, parse, f"one of {', '.join(choices)}")

    def flag(self, name: str, default: bool) -> bool:
        words = {"1": True, "on": True, "true": True, "yes": True,
                 "0": False, "off": False, "false": False, "no": False}

        def parse(value: str) -> bool:
            if value.lower() not in words:
                raise ValueError
            return words[value.lower()]

        return self._parse(name, default, parse, "on or off")

    def url(self, name: str) -> str | None:
        def parse(value: str) -> str:
            if not value.startswith(("postgresql://", "postgres://")):
                raise ValueError
            return value

        return self._parse(name, None, parse, "a postgresql:// URL", secret=True)


@dataclass(frozen=True)
class HttpSettings:
    """The retrying HTTP layer (loaders.http.RetryPolicy.from_settings)."""

    max_attempts: int = 8
    max_attempts_set: bool = False  # the webhook worker keeps its own short budget otherwise
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_server_wait: float = 900.0
    timeout: float = 30.0
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class KnowlaritySettings:
    api_key: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    webhook_token: str | None = field(default=None, repr=False)
    base_url: str = "https://kpi.knowlarity.com"
    channel: str = "Basic"
    page_size: int = 500
    chunk_hours: float = 24.0
    max_passes: int = 3
    initial_days: float = 7.0

    def missing(self) -> list[str]:
        """The pull's credentials that are not set (empty: configured)."""
        return [name for name, value in zip(SPECS["knowlarity"].pull_settings,
                                            (self.api_key, self.auth_token), strict=True) if not value]


@dataclass(frozen=True)
class MetaSettings:
    page_id: str | None = None
    page_access_token: str | None = field(default=None, repr=False)
    app_secret: str | None = field(default=None, repr=False)
    verify_token: str | None = field(default=None, repr=False)
    graph_url: str = "https://graph.facebook.com"
    api_version: str = "v20.0"
    initial_days: float = 90.0  # Graph keeps leads for 90 days

    def missing(self) -> list[str]:
        return [name for name, value in zip(SPECS["meta"].pull_settings,
                                            (self.page_id, self.page_access_token), strict=True)
                if not value]


@dataclass(frozen=True)
class WebhookSettings:
    """`leadlink serve` and its leadgen worker."""

    max_body_bytes: int = 1024 * 1024
    pool_size: int = 8
    run_worker: bool = True
    batch_size: int = 20
    lease_seconds: float = 300.0
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    fail_after: int = 5
    poll_seconds: float = 2.0
    graph_attempts: int = 3
    switch_interval: float = 0.0005
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    forwarded_allow_ips: str | None = None
    # set by `leadlink serve` for its worker processes (the parent resolved the database)
    serve_database_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PublishSettings:
    crm_database_url: str | None = field(default=None, repr=False)
    batch_size: int = 20_000
    lock_timeout_ms: int = 2_000


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    home_dir: Path
    database_url: str | None = field(repr=False)
    embedded_port: int
    embedded_database: str
    raw_schema: str
    crm_schema: str
    analytics_schema: str
    # schema of the phone functions; dbt reads the same variable (macro phone_function_schema)
    function_schema: str = "leadlink"
    log_format: str = "text"
    dbt_threads: int | None = None
    lookback_minutes: float = 120.0
    lock_lease_seconds: float = 60.0
    lookup_token: str | None = field(default=None, repr=False)
    run_dbt_args: tuple[str, ...] = ()  # extra `dbt build` arguments of `leadlink run`
    http: HttpSettings = field(default_factory=HttpSettings)
    knowlarity: KnowlaritySettings = field(default_factory=KnowlaritySettings)
    meta: MetaSettings = field(default_factory=MetaSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    # The mapping these settings were read from: to derive settings with changes (tests) and to
    # build child processes' environments. Never read configuration from it.
    environ: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.home_dir / "pgdata"

    def missing_credentials(self, source: Source) -> list[str]:
        """Env vars a pull of `source` still needs (empty: the source is configured)."""
        return (self.knowlarity if source == "knowlarity" else self.meta).missing()

    @property
    def webhooks_configured(self) -> list[str]:
        """The webhook secrets that are set (a receiver with none of them refuses everything)."""
        values = {"KNOWLARITY_WEBHOOK_TOKEN": self.knowlarity.webhook_token,
                  "META_APP_SECRET": self.meta.app_secret}
        return [spec.webhook_setting for spec in SPECS.values() if values.get(spec.webhook_setting)]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `environ` (default: the process environment). Raises
        SettingsError listing every variable whose value does not parse."""
        env = dict(os.environ if environ is None else environ)
        read = _Reader(env)
        project_dir = find_project_dir(env)
        home = Path(read.raw("LEADLINK_HOME") or project_dir / ".leadlink").resolve()
        settings = cls(
            project_dir=project_dir,
            home_dir=home,
            database_url=read.url("LEADLINK_DATABASE_URL"),
            embedded_port=read.integer("LEADLINK_PG_PORT", DEFAULT_EMBEDDED_PORT, 1, 65535),
            embedded_database=read.text("LEADLINK_DATABASE_NAME", "leadlink"),
            raw_schema=read.text("LEADLINK_RAW_SCHEMA", "raw"),
            crm_schema=read.text("LEADLINK_CRM_SCHEMA", "crm"),
            analytics_schema=read.text("LEADLINK_ANALYTICS_SCHEMA", "analytics"),
            function_schema=read.text("LEADLINK_FUNCTION_SCHEMA", "leadlink"),
            log_format=read.choice("LEADLINK_LOG_FORMAT", "text", ("text", "json")),
            dbt_threads=read.optional_integer("LEADLINK_DBT_THREADS"),
            lookback_minutes=read.number("LEADLINK_LOOKBACK_MINUTES", 120.0),
            lock_lease_seconds=read.number("LEADLINK_LOCK_LEASE_SECONDS", 60.0, positive=True),
            lookup_token=read.optional("LEADLINK_LOOKUP_TOKEN"),
            run_dbt_args=read.arguments("LEADLINK_RUN_DBT_ARGS"),
            http=_http(read),
            knowlarity=_knowlarity(read),
            meta=_meta(read),
            webhooks=_webhooks(read),
            publish=PublishSettings(
                crm_database_url=read.url("LEADLINK_CRM_DATABASE_URL"),
                batch_size=read.integer("LEADLINK_PUBLISH_BATCH_SIZE", 20_000),
                lock_timeout_ms=read.integer("LEADLINK_PUBLISH_LOCK_TIMEOUT_MS", 2_000),
            ),
            environ=env,
        )
        if read.problems:
            raise SettingsError(read.problems, settings.log_format)
        return settings


def _http(read: _Reader) -> HttpSettings:
    return HttpSettings(
        max_attempts=read.integer("LEADLINK_HTTP_MAX_ATTEMPTS", HttpSettings.max_attempts),
        max_attempts_set=read.raw("LEADLINK_HTTP_MAX_ATTEMPTS") is not None,
        backoff_base=read.number("LEADLINK_HTTP_BACKOFF_BASE", HttpSettings.backoff_base),
        backoff_cap=read.number("LEADLINK_HTTP_BACKOFF_CAP", HttpSettings.backoff_cap),
        max_server_wait=read.number("LEADLINK_HTTP_MAX_SERVER_WAIT", HttpSettings.max_server_wait),
        timeout=read.number("LEADLINK_HTTP_TIMEOUT", HttpSettings.timeout, positive=True),
        connect_timeout=read.number("LEADLINK_HTTP_CONNECT_TIMEOUT", HttpSettings.connect_timeout,
                                    positive=True),
    )


def _knowlarity(read: _Reader) -> KnowlaritySettings:
    defaults = KnowlaritySettings()
    return KnowlaritySettings(
        api_key=read.optional("KNOWLARITY_API_KEY"),
        auth_token=read.optional("KNOWLARITY_AUTH_TOKEN"),
        webhook_token=read.optional("KNOWLARITY_WEBHOOK_TOKEN"),
        base_url=read.text("KNOWLARITY_BASE_URL", defaults.base_url).rstrip("/"),
        channel=read.text("KNOWLARITY_CHANNEL", defaults.channel),
        page_size=read.integer("LEADLINK_KNOWLARITY_PAGE_SIZE", defaults.page_size),
        chunk_hours=read.number("LEADLINK_KNOWLARITY_CHUNK_HOURS", defaults.chunk_hours, positive=True),
        max_passes=read.integer("LEADLINK_KNOWLARITY_MAX_PASSES", defaults.max_passes),
        initial_days=read.number("LEADLINK_KNOWLARITY_INITIAL_DAYS", defaults.initial_days),
    )


def _meta(read: _Reader) -> MetaSettings:
    defaults = MetaSettings()
    return MetaSettings(
        page_id=read.optional("META_PAGE_ID"),
        page_access_token=read.optional("META_PAGE_ACCESS_TOKEN"),
        app_secret=read.optional("META_APP_SECRET"),
        verify_token=read.optional("META_VERIFY_TOKEN"),
        graph_url=read.text("META_GRAPH_URL", defaults.graph_url).rstrip("/"),
        api_version=read.text("META_API_VERSION", defaults.api_version),
        initial_days=read.number("LEADLINK_META_INITIAL_DAYS", defaults.initial_days),
    )


def _webhooks(read: _Reader) -> WebhookSettings:
    defaults = WebhookSettings()
    return WebhookSettings(
        max_body_bytes=read.integer("LEADLINK_WEBHOOK_MAX_BODY_BYTES", defaults.max_body_bytes),
        pool_size=read.integer("LEADLINK_WEBHOOK_POOL_SIZE", defaults.pool_size),
        run_worker=read.flag("LEADLINK_WEBHOOK_WORKER", defaults.run_worker),
        batch_size=read.integer("LEADLINK_WEBHOOK_BATCH_SIZE", defaults.batch_size),
        lease_seconds=read.number("LEADLINK_WEBHOOK_LEASE_SECONDS", defaults.lease_seconds, positive=True),
        retry_base_seconds=read.number("LEADLINK_WEBHOOK_RETRY_BASE_SECONDS", defaults.retry_base_seconds),
        retry_cap_seconds=read.number("LEADLINK_WEBHOOK_RETRY_CAP_SECONDS", defaults.retry_cap_seconds),
        fail_after=read.integer("LEADLINK_WEBHOOK_FAIL_AFTER", defaults.fail_after),
        poll_seconds=read.number("LEADLINK_WEBHOOK_POLL_SECONDS", defaults.poll_seconds, positive=True),
        graph_attempts=read.integer("LEADLINK_WEBHOOK_GRAPH_ATTEMPTS", defaults.graph_attempts),
        switch_interval=read.number("LEADLINK_SWITCH_INTERVAL", defaults.switch_interval, positive=True),
        host=read.text("LEADLINK_SERVE_HOST", defaults.host),
        port=read.integer("LEADLINK_SERVE_PORT", defaults.port, 1, 65535),
        workers=read.integer("LEADLINK_SERVE_WORKERS", defaults.workers, 1, 64),
        forwarded_allow_ips=read.optional("LEADLINK_FORWARDED_ALLOW_IPS"),
        serve_database_url=read.url("LEADLINK_SERVE_DATABASE_URL"),
    )


def find_project_dir(environ: Mapping[str, str]) -> Path:
    """The dbt project directory: LEADLINK_PROJECT_DIR, else the checkout this package lives in,
    else the working directory."""
    configured = environ.get("LEADLINK_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "dbt_project.yml").exists():
        return checkout
    return Path.cwd()
