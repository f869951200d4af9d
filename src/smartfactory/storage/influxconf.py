"""The InfluxDB store URL (pure): `influxdb://host:8086?org=ORG&bucket=BUCKET[&option=value…]`.

- `influxdb://` talks plain HTTP (default port 8086); `influxdbs://` talks HTTPS (default port 443, the form
  InfluxDB Cloud uses). A path after the host is kept (a server behind a reverse proxy at `/influx`).
- Required: `org` (name or id) and `bucket`. The token never goes into the URL: it comes from the
  `SMARTFACTORY_INFLUX_TOKEN` setting, so `config show` and logs can print the URL safely.
- Optional: `batch` (lines per write request, default 5000), `retries` (extra attempts of a failed request,
  default 3), `retry_delay` (first pause in seconds, doubling, default 0.5), `timeout` (seconds per request,
  default 10), `ca` (CA bundle file for `influxdbs://`), `gzip` (`true` compresses requests; helps on slow links).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from smartfactory.errors import ConfigError
from smartfactory.retry import RetryPolicy

FORM = "influxdb://host:8086?org=ORG&bucket=BUCKET (influxdbs:// for TLS)"
_OPTIONS = ("org", "bucket", "batch", "retries", "retry_delay", "timeout", "ca", "gzip")


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    http_url: str
    org: str
    bucket: str
    batch_size: int = 5000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 10.0
    ca_file: str | None = None
    gzip: bool = False

    def describe(self) -> str:
        return f"InfluxDB at {self.http_url} (org {self.org!r}, bucket {self.bucket!r})"


def parse_influx_url(url: str) -> InfluxTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("influxdb", "influxdbs") or not parts.hostname:
        raise ConfigError(f"InfluxDB store URL {url!r} is not of the form {FORM}")
    if parts.username or parts.password:
        raise ConfigError("put no credentials in the InfluxDB URL: set the token in SMARTFACTORY_INFLUX_TOKEN")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "token" in query:
        raise ConfigError("never put the InfluxDB token in the store URL: set SMARTFACTORY_INFLUX_TOKEN instead")
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown InfluxDB URL option(s) {unknown}; accepted: {', '.join(_OPTIONS)}")
    missing = [name for name in ("org", "bucket") if not query.get(name)]
    if missing:
        raise ConfigError(f"InfluxDB store URL {url!r} lacks {' and '.join(missing)}: use {FORM}")
    tls = parts.scheme == "influxdbs"
    try:
        port = parts.port or (443 if tls else 8086)
        batch = int(query.get("batch", 5000))
        retry = RetryPolicy(retries=int(query.get("retries", 3)), initial=float(query.get("retry_delay", 0.5)))
        timeout = float(query.get("timeout", 10.0))
    except ValueError as exc:
        raise ConfigError(f"InfluxDB store URL {url!r} has an invalid number: {exc}") from None
    if batch < 1 or timeout <= 0:  # RetryPolicy refuses negative retries and delays itself (a ValueError above)
        raise ConfigError("InfluxDB URL options need batch ≥ 1, retries ≥ 0, retry_delay ≥ 0, timeout > 0")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    http_url = f"{'https' if tls else 'http'}://{host}:{port}{parts.path.rstrip('/')}"
    return InfluxTarget(
        http_url=http_url,
        org=query["org"],
        bucket=query["bucket"],
        batch_size=batch,
        retry=retry,
        timeout_s=timeout,
        ca_file=query.get("ca") or None,
        gzip=query.get("gzip", "false").lower() in ("1", "true", "yes"),
    )


def store_url(http_url: str, org: str, bucket: str, **options: object) -> str:
    """The store URL of a server given as `http(s)://host:port` (how tests and docs build one)."""
    parts = urlsplit(http_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{http_url!r} is not an http:// or https:// URL")
    scheme = "influxdbs" if parts.scheme == "https" else "influxdb"
    query = urlencode({"org": org, "bucket": bucket, **{k: str(v) for k, v in options.items()}}, quote_via=quote)
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}?{query}"
