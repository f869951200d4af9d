"""The InfluxDB store URL, the retry policy and how the backend opens (no server needed)."""

from __future__ import annotations

import pytest

from smartfactory.errors import ConfigError, TransientError
from smartfactory.retry import RetryPolicy, call_with_retries
from smartfactory.storage import open_store
from smartfactory.storage.influxconf import parse_influx_url, store_url


def test_plain_url_defaults() -> None:
    target = parse_influx_url("influxdb://db.lab:8086?org=acme&bucket=factory")
    assert (target.http_url, target.org, target.bucket) == ("http://db.lab:8086", "acme", "factory")
    assert target.batch_size == 5000
    assert target.retry == RetryPolicy()
    assert not target.gzip


def test_tls_url_for_cloud_with_options() -> None:
    target = parse_influx_url(
        "influxdbs://eu-central-1-1.aws.cloud2.influxdata.com/?org=my%20org&bucket=b&batch=2000&retries=5"
        "&retry_delay=0.1&timeout=30&ca=/etc/ssl/lab.pem&gzip=true"
    )
    assert target.http_url == "https://eu-central-1-1.aws.cloud2.influxdata.com:443"
    assert target.org == "my org"
    assert (target.batch_size, target.retry.retries, target.retry.initial) == (2000, 5, 0.1)
    assert (target.timeout_s, target.ca_file, target.gzip) == (30.0, "/etc/ssl/lab.pem", True)


def test_path_prefix_and_ipv6_are_kept() -> None:
    assert parse_influx_url("influxdb://[::1]:9999/influx?org=o&bucket=b").http_url == "http://[::1]:9999/influx"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("influxdb://host:8086?bucket=b", "lacks org"),
        ("influxdb://host:8086?org=o", "lacks bucket"),
        ("influxdb://host:8086?org=o&bucket=b&token=secret", "never put the InfluxDB token"),
        ("influxdb://user:pw@host?org=o&bucket=b", "no credentials"),
        ("influxdb://host?org=o&bucket=b&colour=red", "unknown InfluxDB URL option"),
        ("influxdb://host?org=o&bucket=b&batch=many", "invalid number"),
        ("influxdb://host?org=o&bucket=b&batch=0", "batch ≥ 1"),
        ("http://host:8086?org=o&bucket=b", "not of the form"),
    ],
)
def test_bad_urls_say_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_influx_url(url)


def test_store_url_from_http_round_trips() -> None:
    url = store_url("https://cloud.example:8443/x", "o & co", "b/1", batch=10)
    target = parse_influx_url(url)
    assert url.startswith("influxdbs://cloud.example:8443/x?")
    assert (target.http_url, target.org, target.bucket, target.batch_size) == (
        "https://cloud.example:8443/x",
        "o & co",
        "b/1",
        10,
    )


def test_open_store_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="SMARTFACTORY_INFLUX_TOKEN"):
        open_store("influxdb://127.0.0.1:8086?org=o&bucket=b")


def test_open_store_builds_influx_backend_without_contacting_the_server() -> None:
    store = open_store("influxdb://127.0.0.1:9?org=o&bucket=b", token="t")  # nothing listens on port 9
    assert type(store).__name__ == "InfluxStorage"
    assert store.url.startswith("influxdb://")
    store.close()


def test_retry_policy_doubles_and_caps_and_honours_retry_after() -> None:
    policy = RetryPolicy(retries=5, initial=0.5, max=3.0)
    assert [policy.delay(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(1, retry_after=60) == 3.0


def test_call_with_retries_retries_transient_failures_then_gives_up() -> None:
    pauses: list[float] = []
    calls = iter([TransientError("503"), TransientError("503", retry_after=1.5), "stored"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retries(flaky, RetryPolicy(retries=3, initial=0.25), pauses.append) == "stored"
    assert pauses == [0.25, 1.5]

    def down() -> str:
        raise TransientError("connection refused")

    pauses.clear()
    with pytest.raises(TransientError, match="refused"):
        call_with_retries(down, RetryPolicy(retries=2, initial=0.1), pauses.append)
    assert pauses == [0.1, 0.2]


def test_final_errors_are_not_retried() -> None:
    attempts = []

    def rejected() -> None:
        attempts.append(1)
        raise ValueError("401")

    with pytest.raises(ValueError, match="401"):
        call_with_retries(rejected, RetryPolicy(retries=3), lambda _: None)
    assert len(attempts) == 1
