"""All of Tamtam's configuration, read once from the environment (`TAMTAM_*`).

No other module reads `os.environ`: the wiring (`services/<name>/main.py`) builds a
`Settings` and passes what is needed down. `.env.example` documents every variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

SERVICES = ("api", "ingest", "generation", "review", "publish")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TAMTAM_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'tamtam.db'}",
        description="SQLAlchemy URL. SQLite (WAL) by default; postgresql+psycopg://... in production.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "TAMTAM_KAFKA_BOOTSTRAP_SERVERS"),
        description="An existing Kafka cluster. When unset, `make run` starts a local broker on 127.0.0.1:9092.",
    )
    topic_partitions: int = Field(default=3, ge=1, description="Partitions of each topic created at start-up.")
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name (tests use one per run to stay apart)."
    )
    handler_max_attempts: int = Field(
        default=3, ge=1, description="Attempts of a failing handler before its message is dead-lettered."
    )
    handler_retry_backoff_s: float = Field(
        default=0.2, ge=0, description="First wait between handler attempts (doubles each time)."
    )
    consumer_threads: int = Field(
        default=0, ge=0,
        description=(
            "Partitions each consumer handles at once (threads). 0 = automatic: 1 on SQLite "
            "(one writer at a time), 4 on PostgreSQL."
        ),
    )

    secret_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Comma-separated Fernet keys for secrets at rest; the first encrypts, all decrypt "
            "(rotation: put the new key first, run `tamtam secrets rotate`, then drop the old one). "
            "When unset, a key is created in var/secret.key (development only)."
        ),
    )
    demo: bool = Field(default=True, description="On an empty database, create a demo agency, brand and sandbox account.")
    demo_api_key: SecretStr | None = Field(
        default=None, description="The demo agency's API key (random and printed when unset)."
    )
    demo_password: SecretStr = Field(
        default=SecretStr("tamtam-demo"),
        description="Password of the demo web user demo@tamtam.local (made with the demo agency).",
    )
    sandbox: bool = Field(
        default=True,
        description="Serve the sandbox network (a local test network, unauthenticated) at /sandbox; turn off in production.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the services listen on.")
    api_port: int = Field(default=8000, description="Port of the api service (REST API and web pages).")
    ingest_port: int = Field(default=8001, description="Health and metrics port of the ingest service.")
    generation_port: int = Field(default=8002, description="Health and metrics port of the generation service.")
    review_port: int = Field(default=8003, description="Health and metrics port of the review service.")
    publish_port: int = Field(default=8004, description="Health and metrics port of the publish service.")
    service_host: str = Field(
        default="127.0.0.1", description="Host where the api service finds the other services' health endpoints."
    )
    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description='Where the api finds each service\'s health endpoints when they run on other hosts (JSON, e.g. {"ingest": "http://ingest:8000"}).',
    )
    ingest_poll_interval_s: float = Field(
        default=60.0, gt=0,
        description=("Seconds between two polls of one account's mentions and metrics "
                     "(per-network defaults and overrides win)."),
    )
    ingest_poll_intervals: dict[str, float] = Field(
        default_factory=dict,
        description=('Poll interval in seconds per network, over the built-in ones '
                     '(JSON, e.g. {"x": 300, "sandbox": 5}).'),
    )
    ingest_max_pages_per_poll: int = Field(
        default=10, ge=1,
        description="Pages of mentions one poll of an account reads at most before waiting for the next.",
    )
    ingest_metrics_days: int = Field(
        default=14, ge=1,
        description="Days after publication during which a post's metrics are polled.",
    )
    ingest_feed_interval_s: float = Field(
        default=900.0, gt=0, description="Seconds between two reads of one RSS/Atom feed."
    )
    fetch_allow_networks: str = Field(
        default="",
        description=("Comma-separated networks (CIDR) or host names that fetches of user-given "
                     "URLs (feeds, media, webhooks) may reach although they are private, "
                     "loopback or link-local."),
    )
    ai_config: str = Field(
        default=str(ROOT / "var" / "ai.toml"),
        description="TOML file of the deployment's AI providers ([providers.<name>] tables: base_url, key, models); absent: only the offline `local` provider.",
    )
    load_plugins: str | None = Field(
        default=None,
        description="Comma-separated entry-point names of third-party plugins to load (unset: all installed).",
    )
    log_level: str = Field(default="INFO", description="Log level of every service.")
    log_json: bool = Field(default=True, description="Structured JSON log lines (false: plain text).")
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the `tamtam` command line finds the running api service.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="The API key the `tamtam` command line sends (or pass --key)."
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=0,
        description="Requests per minute each API key may make, per api process (0: no limit).",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests an API key may make at once before the per-minute rate applies.",
    )
    webhook_allow_hosts: str = Field(
        default="",
        description=(
            "Comma-separated CIDRs, addresses or host names webhooks may be delivered to even though "
            "they are private, loopback or link-local (e.g. 127.0.0.1 for a local receiver)."
        ),
    )
    webhook_retry_base_s: float = Field(
        default=30.0, gt=0, description="Wait before a failed webhook delivery's first retry (doubles each time, at most 6 hours).",
    )
    webhook_retry_window_s: float = Field(
        default=86400.0, gt=0, description="How long a webhook delivery is retried before it is marked failed (a day).",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one webhook delivery request.")
    webhook_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often the api looks for webhook deliveries that are due.",
    )

    @property
    def handler_threads(self) -> int:
        if self.consumer_threads:
            return self.consumer_threads
        return 1 if self.database_url.startswith("sqlite") else 4

    @property
    def plugin_allow_list(self) -> list[str] | None:
        if self.load_plugins is None:
            return None
        return [name.strip() for name in self.load_plugins.split(",") if name.strip()]

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or "127.0.0.1:9092"

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def service_url(self, service: str) -> str:
        if service in self.service_urls:
            return self.service_urls[service].rstrip("/")
        return f"http://{self.service_host}:{self.port_of(service)}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
