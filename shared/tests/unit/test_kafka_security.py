"""Kafka transport security settings: refused when incomplete, turned into aiokafka's arguments.

The broker side (a real SASL_SSL listener refusing a wrong password and a
plaintext client) is tested end to end in tests/e2e/test_secured_kafka.py.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from switchboard_shared.kafka import client_options, new_consumer, new_producer, tls_context
from switchboard_shared.settings import CommonSettings, KafkaSecurityProtocol
from switchboard_shared.topics import RAW

PASSWORD = "s3cret-never-shown"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a client certificate signed by it (openssl)."""
    out = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=switchboard",
        "-keyout", "client.key", "-out", "client.csr",
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-out", "client.crt",
    )  # fmt: skip
    openssl(
        "pkcs8", "-topk8", "-in", "client.key", "-out", "client-encrypted.key",
        "-passout", "pass:key-pass",
    )  # fmt: skip
    garbage = out / "not-a-cert.pem"
    garbage.write_text("this is not a certificate\n")
    return {
        "ca": out / "ca.crt",
        "cert": out / "client.crt",
        "key": out / "client.key",
        "encrypted_key": out / "client-encrypted.key",
        "garbage": garbage,
    }


def refusal(**settings: object) -> str:
    with pytest.raises(ValidationError) as caught:
        CommonSettings(**settings)  # type: ignore[arg-type]
    return str(caught.value)


def sasl(protocol: str, certificates: dict[str, Path], username: str = "switchboard") -> dict:
    """Settings of a SASL user with its password and the test CA, over `protocol`."""
    return {
        "kafka_security_protocol": protocol,
        "kafka_sasl_username": username,
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": certificates["ca"],
    }


def tls_with_encrypted_key(certificates: dict[str, Path]) -> dict:
    """Mutual-TLS settings whose client key is encrypted (its password not yet given)."""
    return {
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": certificates["ca"],
        "kafka_ssl_certfile": certificates["cert"],
        "kafka_ssl_keyfile": certificates["encrypted_key"],
    }


def test_plaintext_is_the_default_and_adds_no_security_arguments():
    options = client_options(CommonSettings(kafka_bootstrap_servers="k:9092"))
    assert options == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


def test_empty_variables_mean_unset(monkeypatch):
    for name in ("SASL_USERNAME", "SASL_PASSWORD", "SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE"):
        monkeypatch.setenv(f"SWITCHBOARD_KAFKA_{name}", "")
    settings = CommonSettings()
    assert settings.kafka_ssl_cafile is None and settings.kafka_sasl_password is None


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_sasl_without_a_username_is_refused_naming_the_setting(protocol):
    message = refusal(kafka_security_protocol=protocol, kafka_sasl_password=PASSWORD)
    assert "SWITCHBOARD_KAFKA_SASL_USERNAME is required" in message
    assert PASSWORD not in message


def test_sasl_without_a_password_is_refused_naming_the_setting():
    message = refusal(kafka_security_protocol="SASL_SSL", kafka_sasl_username="switchboard")
    assert "SWITCHBOARD_KAFKA_SASL_PASSWORD is required" in message


def test_sasl_credentials_without_a_sasl_protocol_are_refused():
    message = refusal(kafka_sasl_username="switchboard", kafka_sasl_password=PASSWORD)
    assert "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in message
    assert PASSWORD not in message


def test_a_missing_ca_file_is_refused_naming_the_setting(tmp_path):
    message = refusal(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "nope.crt")
    assert "SWITCHBOARD_KAFKA_SSL_CAFILE" in message and "nope.crt" in message


def test_a_ca_file_that_is_not_pem_is_refused_naming_the_setting(certificates):
    message = refusal(kafka_security_protocol="SSL", kafka_ssl_cafile=certificates["garbage"])
    assert "SWITCHBOARD_KAFKA_SSL_CAFILE: cannot load" in message


def test_tls_files_with_a_protocol_without_tls_are_refused(certificates):
    message = refusal(**sasl("SASL_PLAINTEXT", certificates))
    assert "does not use TLS" in message and "SWITCHBOARD_KAFKA_SSL_CAFILE" in message


def test_a_key_without_its_certificate_is_refused(certificates):
    message = refusal(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=certificates["ca"],
        kafka_ssl_keyfile=certificates["key"],
    )
    assert "SWITCHBOARD_KAFKA_SSL_KEYFILE is set without SWITCHBOARD_KAFKA_SSL_CERTFILE" in message


def test_an_encrypted_key_without_its_password_is_refused_without_prompting(certificates):
    message = refusal(**tls_with_encrypted_key(certificates))
    assert "SWITCHBOARD_KAFKA_SSL_KEY_PASSWORD" in message


def test_settings_are_read_from_the_environment_and_never_show_the_password(
    monkeypatch, certificates
):
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SASL_USERNAME", "switchboard")
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SSL_CAFILE", str(certificates["ca"]))
    settings = CommonSettings()
    assert settings.kafka_security_protocol is KafkaSecurityProtocol.SASL_SSL
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    # An invalid value elsewhere: the error does not echo the environment it read.
    monkeypatch.setenv("SWITCHBOARD_KAFKA_ACK_TIMEOUT_SECONDS", "-1")
    with pytest.raises(ValidationError) as caught:
        CommonSettings()
    assert PASSWORD not in str(caught.value)


def test_sasl_ssl_becomes_a_verifying_tls_context_and_scram_credentials(certificates):
    settings = CommonSettings(
        kafka_bootstrap_servers="kafka-0:9093,kafka-1:9093",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        **sasl("SASL_SSL", certificates, username="switchboard-ingest"),
    )
    options = client_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "kafka-0:9093,kafka-1:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "switchboard-ingest",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]


def test_mutual_tls_loads_the_client_certificate_and_may_skip_the_hostname(certificates):
    settings = CommonSettings(
        **tls_with_encrypted_key(certificates),
        kafka_ssl_key_password="key-pass",
        kafka_ssl_check_hostname=False,
    )
    context = tls_context(settings)
    assert context is not None
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert "sasl_mechanism" not in client_options(settings)


async def test_every_client_built_here_gets_the_security_settings(certificates):
    settings = CommonSettings(**sasl("SASL_SSL", certificates))
    producer: AIOKafkaProducer = new_producer(settings, client_id="t")
    consumer = new_consumer(settings, RAW, group_id="g", client_id="t")
    for client in (producer.client, consumer._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "switchboard"
        assert client._ssl_context is not None
    await producer.stop()
    await consumer.stop()
