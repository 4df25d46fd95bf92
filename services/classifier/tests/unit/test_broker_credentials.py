"""The faust app connects with the same Kafka security settings as every other client.

faust builds its own aiokafka consumer and producer from `broker_credentials`
(faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth); these tests
check what those clients would be given.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from switchboard_classifier.app import broker_credentials, create_app
from switchboard_classifier.reload import Reloader, Sources
from switchboard_classifier.settings import ClassifierSettings

PASSWORD = "classifier-secret"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=faust-test-ca", "-keyout", "ca.key", "-out", "ca.crt"],
        cwd=out, check=True, capture_output=True,
    )  # fmt: skip
    return out / "ca.crt"


def test_plaintext_gives_faust_no_credentials():
    assert broker_credentials(ClassifierSettings()) is None


def test_sasl_ssl_reaches_faust_aiokafka_clients_as_scram_over_verified_tls(ca_file, tmp_path):
    settings = ClassifierSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="switchboard-classifier",
        kafka_sasl_password=PASSWORD,
        kafka_ssl_cafile=ca_file,
        classifier_data_dir=tmp_path,
    )
    app, _ = create_app(settings, Reloader(Sources(use_model=False)))
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    context = auth.pop("ssl_context")
    assert auth == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "switchboard-classifier",
        "sasl_plain_password": PASSWORD,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "faust-test-ca"),),)]
    assert PASSWORD not in repr(app.conf.broker_credentials)


def test_ssl_alone_reaches_faust_as_ssl_credentials(ca_file):
    settings = ClassifierSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca_file)
    auth = credentials_to_aiokafka_auth(broker_credentials(settings))
    assert auth["security_protocol"] == "SSL"
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_reaches_faust_without_tls():
    settings = ClassifierSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password=PASSWORD,
    )
    auth = credentials_to_aiokafka_auth(broker_credentials(settings))
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert auth["sasl_mechanism"] == "PLAIN" and auth["ssl_context"] is None
