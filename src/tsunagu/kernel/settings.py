"""Settings, from environment variables (``TSUNAGU_*``) and an optional TOML file.

Precedence: environment > TOML file (``TSUNAGU_CONFIG``, default ``$TSUNAGU_DATA_DIR/tsunagu.toml``
if it exists) > defaults. Every field is documented in docs/configuration.md; a test checks that.
Secrets are read from the environment or from a file named by ``*_FILE`` and are never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path | None:
    explicit = os.environ.get("TSUNAGU_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path(os.environ.get("TSUNAGU_DATA_DIR", "var")) / "tsunagu.toml"
    return default if default.exists() else None


class Settings(BaseSettings):
    """All runtime settings of a tsunagu process."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="forbid")

    data_dir: Path = Field(Path("var"), description="Directory for the SQLite file and state.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means a SQLite file in data_dir. "
        "Use postgresql+psycopg://user@host:5432/db for PostgreSQL.",
    )
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    base_url: str = Field(
        "", description="Public URL of the site; derived from host/port if empty."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key for CSRF tokens and signed cookies. Empty: a random key is created "
        "in data_dir/secret_key on first start.",
    )
    secret_key_file: Path | None = Field(None, description="File holding secret_key.")
    behind_tls: bool = Field(
        False, description="Send HSTS and mark cookies Secure (set when served over HTTPS)."
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1024, description="Largest request body accepted, in bytes."
    )
    rate_limit_write: str = Field("60/minute", description="Write requests per client address.")
    rate_limit_search: str = Field("600/minute", description="Search requests per client address.")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(True, description="Structured JSON logs on stderr.")
    dcat_page_size: int = Field(
        100, ge=1, le=10_000, description="Datasets per page of the DCAT catalog exports."
    )
    dcat_publisher: str = Field(
        "tsunagu", description="Name of the catalog's publisher (foaf:name) in DCAT exports."
    )
    dcat_validate_max_triples: int = Field(
        2000,
        ge=1,
        description="Most triples POST /api/v1/dcat/validate takes in one request (SHACL time).",
    )
    dcat_validate_max_resources: int = Field(
        150,
        ge=1,
        description="Most typed resources (dcat:Dataset, dcat:Distribution …) "
        "POST /api/v1/dcat/validate takes in one request (SHACL time).",
    )
    harvest_max_pages: int = Field(
        1000, ge=1, description="Most pages one harvest run follows (stops endless nextPage)."
    )
    harvest_max_datasets: int = Field(
        200_000, ge=1, description="Most datasets one harvest run accepts from a source."
    )
    harvest_max_bytes: int = Field(
        50_000_000, ge=1024, description="Largest response body a harvest accepts (bytes)."
    )
    harvest_timeout: float = Field(
        30.0, gt=0, description="Seconds a harvest waits to connect to or read from a source."
    )
    quality_max_bytes: int = Field(
        100_000_000,
        ge=1024,
        description="Largest distribution file the machine-readability check reads (bytes).",
    )
    url_check_timeout: float = Field(
        10.0, gt=0, description="Seconds the quality job waits for a distribution URL to answer."
    )
    search_max_rows: int = Field(1000, ge=1, description="Largest page size of a search.")
    datastore_read_url: str = Field(
        "",
        description="PostgreSQL URL of the read-only role datastore_search_sql runs as (like "
        "CKAN's ckan.datastore.read_url); empty: no SQL endpoint on PostgreSQL. SQLite needs none.",
    )
    datastore_sql_timeout_ms: int = Field(
        5000, ge=10, le=600_000, description="Time limit of one datastore SQL query (ms)."
    )
    datastore_max_bytes: int = Field(
        1_000_000_000, ge=1024, description="Largest CSV/XLSX file the datastore loads (bytes)."
    )
    search_engine: Literal["database", "tantivy"] = Field(
        "database",
        description="Who answers searches: the database's full-text index (exact, default) or a "
        "tantivy index in data_dir/search kept in step with the database.",
    )

    trust_dev_mode: bool = Field(
        True,
        description="Generate the platform CA, TSA and trust-list keys on first start with a "
        "passphrase stored beside them (loud warning). Set false in production.",
    )
    trust_dir: Path | None = Field(
        None, description="Directory of the CA keys and certificates; empty: data_dir/trust."
    )
    trust_key_passphrase: SecretStr = Field(
        SecretStr(""), description="Passphrase that encrypts the private keys at rest."
    )
    trust_key_passphrase_file: Path | None = Field(
        None, description="File holding the key passphrase (a KMS-style mounted key file)."
    )
    trust_instance: str = Field("JP", description="Instance code that starts every member id.")
    trust_list_validity: int = Field(
        3600, ge=60, description="Seconds a signed trust list stays valid after it is issued."
    )
    trust_log_vkey_file: Path | None = Field(
        None, description="Transparency-log verifier key (C2SP vkey) to publish in the trust list."
    )
    tsa_url: str = Field(
        "", description="External RFC 3161 TSA URL; empty: the embedded TSA at /tsa."
    )
    tsa_policy: str = Field(
        "0.4.0.2023.1.1", description="Policy OID the embedded TSA puts in every token."
    )

    log_origin: str = Field(
        "",
        description="Transparency log origin (checkpoint first line and key name); empty: the "
        "scheme-less base URL + /log, as C2SP tlog-tiles recommends.",
    )
    log_key_file: Path | None = Field(
        None,
        description="Ed25519 private key (PKCS#8 PEM) that signs log checkpoints; empty: "
        "data_dir/ledger/log.key, generated on first start (mode 0600).",
    )
    log_checkpoint_interval: float = Field(
        5.0, ge=0, description="Seconds a checkpoint is served before a newer one is signed."
    )
    log_witnesses: str = Field(
        "",
        description="Verifier keys (C2SP vkeys, type 0x04) of witnesses whose cosignatures "
        "the log accepts and publishes; space- or comma-separated.",
    )
    witness_name: str = Field(
        "", description="Key name of this node as a log witness; empty: base URL + /witness."
    )
    witness_key_file: Path | None = Field(
        None,
        description="Ed25519 key (PKCS#8 PEM) this node cosigns with; empty: "
        "data_dir/ledger/witness.key, generated on first use.",
    )
    witness_logs: str = Field(
        "",
        description="Verifier keys (C2SP vkeys) of the logs this node witnesses; "
        "space- or comma-separated. Empty: not a witness.",
    )

    node_member: str = Field(
        "", description="Member id this node serves (JP/{CLASS}/{法人番号}); empty: not a node."
    )
    node_hub_url: str = Field("", description="URL of the hub a node enrolls with and trusts.")
    node_mesh_host: str = Field(
        "127.0.0.1", description="Address a node's mutual-TLS listener (node to node) binds to."
    )
    node_mesh_port: int = Field(
        8443, ge=1, le=65535, description="Port of a node's mutual-TLS listener."
    )
    node_mesh_url: str = Field(
        "", description="URL other nodes reach this node at; empty: https://mesh_host:mesh_port."
    )
    node_webhook_url: str = Field(
        "", description="The local system's webhook that receives pushed notifications."
    )
    node_local_tls_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of a node's HTTPS listener for local systems, where they may "
        "authenticate with a client certificate registered by `tsunagu node local-cert add` "
        "(X-Road's information-system TLS); 0: none (the plain local listener only).",
    )
    node_local_tls_host: str = Field(
        "127.0.0.1", description="Address the HTTPS listener for local systems binds to."
    )
    node_local_tls_cert_file: Path | None = Field(
        None,
        description="PEM server certificate (with chain) of the HTTPS listener for local "
        "systems; empty: a self-signed one generated in data_dir/local-tls on first start.",
    )
    node_local_tls_key_file: Path | None = Field(
        None, description="PEM private key of node_local_tls_cert_file."
    )
    node_link_key_file: Path | None = Field(
        None,
        description="Pseudonym linking key (HMAC key over individual numbers) of organizations "
        "allowed to hold individual numbers; empty: this node holds none.",
    )
    mesh_clock_skew: int = Field(
        300, ge=1, description="Seconds a signed message may differ from this node's clock."
    )
    mesh_trust_refresh: int = Field(
        60, ge=1, description="Seconds a node uses its cached trust list before asking the hub."
    )
    mesh_timeout: float = Field(
        30.0, gt=0, description="Seconds a node waits for another node, the hub or a backend."
    )
    mesh_message_retention_days: int = Field(
        365, ge=1, description="Days message-log records are kept before `tsunagu node prune`."
    )
    mesh_log_batch_seconds: float = Field(
        5.0,
        gt=0,
        description="Seconds between two time-stamped batches of the message log "
        "(an RFC 3161 token from the hub's TSA over each batch's Merkle root).",
    )
    mesh_max_failures: int = Field(
        10, ge=1, description="Failed deliveries in a row after which a subscription pauses."
    )
    mesh_pause_seconds: int = Field(
        300, ge=1, description="Seconds a paused subscription waits before one probe delivery."
    )
    mesh_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds between two rounds of an idle node worker. New work (outbox events "
        "committed, notifications received) wakes it at once; the poll drives retries, "
        "leases and message-log batches.",
    )
    mesh_push_concurrency: int = Field(
        8,
        ge=1,
        le=64,
        description="Notifications a node's worker sends at once (to subscribers, and to its "
        "local webhook); one per subject at a time, so the order per subject holds.",
    )
    mesh_max_attempts: int = Field(
        20, ge=1, description="Attempts after which a notification goes to the dead letters."
    )
    mesh_retry_base: float = Field(
        1.0, gt=0, description="First retry delay in seconds (doubles each time, with jitter)."
    )
    mesh_retry_max: float = Field(
        300.0, gt=0, description="Longest delay between two delivery attempts, in seconds."
    )
    mesh_worker: bool = Field(
        True, description="Run the push delivery worker inside this node process."
    )
    hub_pseudonym_key_file: Path | None = Field(
        None,
        description="Hub's HMAC key deriving per-organization pseudonyms; empty: "
        "data_dir/mesh/pseudonym.key, generated on first use (mode 0600).",
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tsunagu.sqlite3').resolve()}"

    @property
    def effective_node_mesh_url(self) -> str:
        return (
            self.node_mesh_url.rstrip("/") or f"https://{self.node_mesh_host}:{self.node_mesh_port}"
        )

    @property
    def effective_base_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def resolved_secret_key(self) -> str:
        """The secret key: from the setting, its file, or a generated file in data_dir."""
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        if self.secret_key_file is not None:
            return self.secret_key_file.read_text(encoding="utf-8").strip()
        path = self.data_dir / "secret_key"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the TOML file; overrides win."""
    return Settings(**overrides)
