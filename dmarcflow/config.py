"""Settings: frozen dataclasses read from a TOML file, then environment overrides.

Every key can be set as ``DMARCFLOW_<SECTION>_<KEY>``; secrets also as
``DMARCFLOW_<SECTION>_<KEY>_FILE`` (a file holding the value). The mailbox
section is a list in TOML; environment overrides apply to the first mailbox
(or create one when ``DMARCFLOW_MAILBOX_HOST`` is set and the file has none).
Settings are validated once, here; the rest of the code trusts them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_type_hints

from dmarcflow.config_checks import (
    Where,
    check_elasticsearch,
    check_enrichment,
    check_limits,
    check_mailbox,
    check_web,
)
from dmarcflow.errors import ConfigError
from dmarcflow.models import CHECK_RECORDS

ENV_PREFIX = "DMARCFLOW_"
SECRET_KEYS = {"password", "api_key", "oauth2_token"}


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "dmarcflow"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dmarcflow" / "dmarcflow.toml"


@dataclass(frozen=True)
class StoreSettings:
    path: str = ""  # empty: <data dir>/dmarcflow.sqlite

    def resolved_path(self) -> Path:
        return Path(self.path).expanduser() if self.path else default_data_dir() / "dmarcflow.sqlite"


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 1 << 30  # decompressed bytes per input, all layers together
    max_ratio: int = 200  # decompressed / compressed, per stream and per input
    max_members: int = 64  # zip entries and mail parts per input, all layers together
    max_depth: int = 4  # nested archives, streams and messages
    max_message_bytes: int = 64 << 20  # one email or mbox message in memory


@dataclass(frozen=True)
class EnrichmentSettings:
    offline: bool = False  # no reverse DNS lookups
    nameservers: tuple[str, ...] = ()  # empty: the system resolver
    dns_port: int = 53
    dns_timeout: float = 2.0
    dns_workers: int = 16
    ip_db: str = ""  # empty: the IPinfo Lite database parsedmarc ships


@dataclass(frozen=True)
class MailboxSettings:
    name: str = "default"
    host: str = ""
    port: int = 0  # 0: 993 for implicit TLS, 143 otherwise
    tls: str = "implicit"  # implicit | starttls | none (loopback only)
    verify: bool = True
    ca_file: str = ""
    user: str = ""
    password: str = field(default="", repr=False)  # never in logs or reprs
    password_file: str = ""  # a file holding the password (read at each login)
    oauth2_token: str = field(default="", repr=False)
    oauth2_token_file: str = ""
    oauth2_token_command: str = ""
    folder: str = "INBOX"
    archive_folder: str = "Archive"
    invalid_folder: str = "Invalid"
    # Optional folders of their own for the other report kinds' mails; empty: archive_folder.
    tls_archive_folder: str = ""
    failure_archive_folder: str = ""
    delete_processed: bool = False
    batch_size: int = 500
    poll_interval: float = 60.0
    idle_timeout: float = 1500.0  # re-issue IDLE before the 29-minute server limit
    timeout: float = 60.0  # seconds for connecting and for each IMAP command
    reconnect_min: float = 1.0  # first delay after a failure; doubles up to reconnect_max, with jitter
    reconnect_max: float = 300.0

    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)

    def archive_folder_for(self, kind: str | None) -> str:
        """Where a processed mail of this report kind goes: ``<kind>_archive_folder`` when set, else archive_folder."""
        own = getattr(self, f"{kind}_archive_folder", "") if kind else ""
        return str(own) or self.archive_folder

    def archive_folders(self) -> tuple[str, ...]:
        """Every folder processed mail may be filed in (each once)."""
        kinds = tuple(getattr(self, f.name) for f in fields(self) if f.name.endswith("_archive_folder"))
        return tuple(dict.fromkeys(folder for folder in (self.archive_folder, *kinds) if folder))


@dataclass(frozen=True)
class ElasticsearchSettings:
    url: str = ""  # empty: indexing is off
    username: str = ""
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    ca_file: str = ""
    verify: bool = True
    index_prefix: str = "dmarcflow"
    index_period: str = "month"  # month | day | year
    retention_days: int = 0  # 0: keep forever
    batch_size: int = 2000
    timeout: float = 30.0
    shards: int = 1  # primary shards per time-based index
    replicas: int = 1  # 0 on a single-node cluster, or its indices stay yellow
    max_retries: int = 5  # per chunk, on 429 and connection errors, with exponential backoff


ENGINES = ("elasticsearch", "opensearch")


@dataclass(frozen=True)
class IndexSettings(ElasticsearchSettings):
    """[index]: the search engine the outbox feeds; the [elasticsearch] keys plus ``engine``.

    [elasticsearch] is the deprecated name of this section (same keys, engine elasticsearch):
    ``load_settings`` merges the two, and a ``Settings`` built with only ``elasticsearch=``
    takes it as its index (see ``Settings.__post_init__``).
    """

    engine: str = "elasticsearch"  # elasticsearch | opensearch


@dataclass(frozen=True)
class SmtpSettings:
    """Where digests and alert mails go out. The TOML key of ``from_`` is ``from``."""

    host: str = ""  # empty: no mail is sent
    port: int = 0  # 0: 465 for ssl, 587 for starttls, 25 for none
    tls: str = "starttls"  # starttls | ssl (implicit TLS) | none (loopback only, unless allow_insecure)
    allow_insecure: bool = False  # permit tls = "none" to a host that is not loopback
    verify: bool = True
    ca_file: str = ""
    user: str = ""  # empty: no login
    password: str = field(default="", repr=False)
    password_file: str = ""
    oauth2_token: str = field(default="", repr=False)
    oauth2_token_file: str = ""
    oauth2_token_command: str = ""
    from_: str = ""  # the From address of every mail dmarcflow sends
    timeout: float = 30.0

    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587}.get(self.tls, 25)


@dataclass(frozen=True)
class AlertsSettings:
    """Rules (each on/off, with its thresholds) and where alerts are delivered."""

    new_unauthorised_source: bool = True
    own_sender_failing: bool = True
    pass_rate_drop: bool = True
    reports_stopped: bool = True
    dns_changed: bool = True
    new_failure_reports: bool = True
    tls_failures: bool = True
    period_days: int = 7  # the period each rule looks at (and the previous one, of the same length)
    new_source_view: str = "ip"  # ip | sender: what counts as one source for new_unauthorised_source
    new_source_min_messages: int = 10  # failing messages a new source needs to raise an alert
    own_sender_min_failing: int = 20  # failing messages of an approved or misconfigured sender
    pass_rate_min_drop: float = 10.0  # percentage points
    pass_rate_min_messages: int = 100  # messages each period needs for a pass-rate comparison
    stopped_days: int = 3  # days without any report for a domain
    reporter_silent_days: int = 3  # days a daily reporter may be silent
    reporter_daily_days: int = 5  # a reporter is "daily" with reports on this many of the period_days before its last
    dns_changed_records: tuple[str, ...] = CHECK_RECORDS  # the record types the dns_changed rule compares
    dns_changed_min_severity: str = "warning"  # changes of a lower severity raise nothing (info < warning < critical)
    failure_new_source_min_reports: int = 1  # failure reports a source never named before for the domain needs
    failure_known_source_min_reports: int = 0  # failure reports that raise for an already named source too; 0: never
    tls_min_failed_sessions: int = 10  # failed TLS sessions of a policy domain in the period
    tls_min_failure_share: float = 1.0  # ... that are also at least this share (percent) of its sessions
    email_to: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    webhook_secret_file: str = ""
    webhook_timeout: float = 10.0
    webhook_attempts: int = 3  # per delivery run, with exponential backoff between them
    webhook_ca_file: str = ""
    allow_http: bool = False  # permit http:// webhooks to hosts that are not loopback
    apprise: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestSettings:
    schedule: str = ""  # empty: no scheduled digest; "weekly mon 08:00" or "daily 07:00"
    timezone: str = "UTC"  # the schedule's time zone (IANA name)
    to: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()  # empty: every domain with reports
    days: int = 0  # the period a scheduled digest covers; 0: 7 for weekly, 1 for daily
    send_empty: bool = True  # an empty period still sends a short digest that says so


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"  # any other address needs token_file (or serve --insecure-no-auth)
    port: int = 8080
    token_file: str = ""  # a file holding the access token; empty: no token (loopback only)


@dataclass(frozen=True)
class DnsSettings:
    """The resolver `dmarcflow check` asks (reverse DNS at ingest keeps its own [enrichment] keys)."""

    nameservers: tuple[str, ...] = ()  # "IP" or "IP:PORT" ("[IPv6]:PORT"); empty: the system resolver
    timeout: float = 3.0  # seconds per lookup, retries included


@dataclass(frozen=True)
class FailureReportSettings:
    # A failure report can carry someone's whole message: by default only its metadata and the
    # original's headers are stored. True also keeps the raw report mail (body included).
    keep_samples: bool = False


@dataclass(frozen=True)
class ApprovedSenders:
    services: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    rdns_domains: tuple[str, ...] = ()
    # Senders known NOT to be the domain's: each entry a service name, a network or a reverse-DNS domain.
    not_ours: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    limits: Limits = field(default_factory=Limits)
    enrichment: EnrichmentSettings = field(default_factory=EnrichmentSettings)
    mailboxes: tuple[MailboxSettings, ...] = ()
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)  # deprecated: [index]
    web: WebSettings = field(default_factory=WebSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    failure_reports: FailureReportSettings = field(default_factory=FailureReportSettings)
    approved: Mapping[str, ApprovedSenders] = field(default_factory=lambda: MappingProxyType({}))
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    source: str = ""  # the file these settings came from, for messages
    index: IndexSettings = field(default_factory=IndexSettings)  # the effective search-index settings

    def __post_init__(self) -> None:
        # Callers that still build Settings(elasticsearch=...) get that section as their index
        # (whole, engine included, when they pass IndexSettings there).
        if self.index == IndexSettings() and self.elasticsearch != ElasticsearchSettings():
            alias = self.elasticsearch
            index = alias if isinstance(alias, IndexSettings) else _index_from_alias(alias, {})
            object.__setattr__(self, "index", index)


_SECTIONS = {
    "store": StoreSettings,
    "limits": Limits,
    "enrichment": EnrichmentSettings,
    "elasticsearch": ElasticsearchSettings,
    "smtp": SmtpSettings,
    "alerts": AlertsSettings,
    "digest": DigestSettings,
    "web": WebSettings,
    "dns": DnsSettings,
    "failure_reports": FailureReportSettings,
}


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (explicit, DMARCFLOW_CONFIG, or the default if present), then the environment."""
    env = os.environ if env is None else env
    chosen = path or env.get(ENV_PREFIX + "CONFIG")
    if chosen is None and _present(default_config_path()):
        chosen = default_config_path()
    data = _read_toml(Path(chosen)) if chosen else {}
    unknown = set(data) - set(_SECTIONS) - {"mailbox", "mailboxes", "approved", "index"}
    if unknown:
        raise ConfigError(f"{chosen}: unknown section(s) {', '.join(sorted(unknown))}")
    sections = {name: _build(cls, data.get(name, {}), name, env) for name, cls in _SECTIONS.items()}
    return Settings(
        **sections,
        index=_index_settings(data, env, sections["elasticsearch"]),
        mailboxes=_mailboxes(data, env),
        approved=_approved(data.get("approved", {})),
        source=str(chosen or ""),
    )


def _present(path: Path) -> bool:
    """Whether the optional default file is there; a folder this user cannot enter counts as no file."""
    try:
        path.stat()
    except OSError:
        return False
    return True


def _index_settings(data: Mapping[str, Any], env: Mapping[str, str], alias: ElasticsearchSettings) -> IndexSettings:
    """[index], with each key it leaves unset taken from [elasticsearch], its deprecated name.

    A key set in both (file or environment) to different values is an error rather than a
    silent choice: the user meant one of them. A key of [elasticsearch] left at its default
    counts as unset (the example config lists every key of both sections).
    """
    own = _build(IndexSettings, data.get("index", {}), "index", env)
    own_keys = _keys_set(data.get("index", {}), "index", env, IndexSettings)
    defaults = ElasticsearchSettings()
    alias_keys = {name for name in _keys_set(data.get("elasticsearch", {}), "elasticsearch", env, ElasticsearchSettings)
                  if getattr(alias, name) != getattr(defaults, name)}
    for name in sorted(own_keys & alias_keys):
        if getattr(own, name) != getattr(alias, name):
            raise ConfigError(f"[index] {name} and [elasticsearch] {name} differ: [elasticsearch] is the deprecated "
                              "name of [index]; set the key in [index] only")
    return _index_from_alias(alias, {name: getattr(own, name) for name in own_keys | {"engine"}})


def _index_from_alias(alias: ElasticsearchSettings, own: Mapping[str, Any]) -> IndexSettings:
    values = {f.name: getattr(alias, f.name) for f in fields(ElasticsearchSettings)}
    return IndexSettings(**{**values, **own})


def _keys_set(values: Any, section: str, env: Mapping[str, str], cls: type) -> set[str]:
    """The keys of a section that the file or the environment sets."""
    prefix = f"{ENV_PREFIX}{section.upper()}_"
    in_env = {f.name for f in fields(cls) if prefix + f.name.upper() in env
              or (f.name in SECRET_KEYS and prefix + f.name.upper() + "_FILE" in env)}
    return set(values if isinstance(values, Mapping) else ()) | in_env


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: a run without a config file never needs the parser

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _build(cls: type, values: Mapping[str, Any], section: str, env: Mapping[str, str], env_section: str | None = None) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    hints: dict[str, Any] = {}

    def hint(name: str) -> Any:
        if not hints:  # read on the first key set: most sections of most runs set none
            hints.update(get_type_hints(cls))
        return hints[name]

    names = {config_key(f.name): f.name for f in fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise ConfigError(f"[{section}] unknown key(s): {', '.join(sorted(unknown))}")
    kwargs = {names[k]: _coerce(v, hint(names[k]), f"{section}.{k}") for k, v in values.items()}
    prefix = f"{ENV_PREFIX}{(env_section or section).upper()}_"
    from_env: set[str] = set()
    for key, name in names.items():
        raw = _env_value(env, prefix + key.upper(), key)
        if raw is not None:
            kwargs[name] = _coerce_text(raw, hint(name), prefix + key.upper())
            from_env.add(key)
    obj = cls(**kwargs)
    check = _CHECKS.get(cls)
    if check is not None:
        check(obj, Where(section, prefix, frozenset(from_env)))
    return obj


def config_key(field_name: str) -> str:
    """The TOML key of a field: a Python keyword (``from``) is spelt with a trailing underscore in code."""
    return field_name.rstrip("_")


def _env_value(env: Mapping[str, str], key: str, name: str) -> str | None:
    if key in env:
        return env[key]
    file_key = key + "_FILE"
    if name in SECRET_KEYS and file_key in env:
        try:
            return Path(env[file_key]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file_key}: cannot read {env[file_key]}: {exc.strerror}") from None
    return None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif str(hint).startswith("tuple") and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: expected {_type_name(hint)}, got {value!r}")


def _coerce_text(raw: str, hint: Any, where: str) -> Any:
    try:
        if hint is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        if str(hint).startswith("tuple"):
            return tuple(v.strip() for v in raw.split(",") if v.strip())
        return raw
    except ValueError:
        raise ConfigError(f"{where}: expected {_type_name(hint)}, got {raw!r}") from None


def _type_name(hint: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, "a list of strings")


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` -> (address, port); ValueError says what is wrong."""
    raw = text.strip()
    host, port = raw, "53"
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not IP, IP:PORT or [IPv6]:PORT")
        port = rest[1:] or "53"
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (use IP, IP:PORT or [IPv6]:PORT; no host names)") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return address, int(port)


def check_dns(obj: DnsSettings, where: Where) -> None:
    for entry in obj.nameservers:
        try:
            parse_nameserver(entry)
        except ValueError as exc:
            where.fail("nameservers", obj.nameservers, str(exc), ("192.0.2.53", "127.0.0.1:5353"))
    if not 0 < obj.timeout <= 60:  # also refuses nan
        where.fail("timeout", obj.timeout, "must be a number of seconds above 0 and at most 60", 3.0)


def _check_index(obj: Any, where: Where) -> None:
    check_elasticsearch(obj, where)
    if obj.engine not in ENGINES:
        raise ConfigError(f"[{where.section}] engine must be elasticsearch or opensearch, not {obj.engine!r}")


def _check_notify(obj: Any, where: Where) -> None:
    if obj == type(obj)():  # the defaults are valid (a test checks it): no need to import SMTP and TLS for them
        return
    from dmarcflow.notify.settings_checks import check_section

    check_section(obj, where.section)


_CHECKS: dict[type, Callable[[Any, Where], None]] = {
    Limits: check_limits,
    EnrichmentSettings: check_enrichment,
    ElasticsearchSettings: check_elasticsearch,
    IndexSettings: _check_index,
    MailboxSettings: check_mailbox,
    WebSettings: check_web,
    SmtpSettings: _check_notify,
    AlertsSettings: _check_notify,
    DigestSettings: _check_notify,
    DnsSettings: check_dns,
}


def _mailboxes(data: Mapping[str, Any], env: Mapping[str, str]) -> tuple[MailboxSettings, ...]:
    raw = data.get("mailboxes", data.get("mailbox", []))
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("[[mailboxes]] must be an array of tables")
    result = []
    for index, values in enumerate(raw):
        use_env = env if index == 0 else {}
        box = _build(MailboxSettings, values, f"mailboxes.{index}", use_env, env_section="mailbox")
        result.append(box)
    if not result and f"{ENV_PREFIX}MAILBOX_HOST" in env:
        result.append(_build(MailboxSettings, {}, "mailbox", env))
    names = [m.name for m in result]
    if len(set(names)) != len(names):
        raise ConfigError('mailbox names must be unique (set name = "..." in each [[mailboxes]])')
    return tuple(result)


def _approved(raw: Any) -> Mapping[str, ApprovedSenders]:
    """The [approved] lists, every entry checked here once (a read-only mapping: settings are frozen)."""
    if not isinstance(raw, Mapping):
        raise ConfigError('[approved] must be a table of domains, e.g. [approved."example.com"]')
    out: dict[str, ApprovedSenders] = {}
    for dom, values in raw.items():
        entry = _build(ApprovedSenders, values, f"approved.{dom}", {})
        for net in entry.networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f'[approved."{dom}"] networks: {net!r} is not an IP network '
                                  "(use CIDR, e.g. 192.0.2.0/24)") from None
        out[dom.lower().rstrip(".")] = entry
    if out:
        from dmarcflow.analysis.approved import validate_all  # the matcher's rules, the one place that knows them

        validate_all(out)
    return MappingProxyType(out)
