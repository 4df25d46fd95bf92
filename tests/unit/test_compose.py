"""docker-compose.yml, the services' Dockerfile and the Prometheus config agree with the code.

No Docker is needed: the files are parsed and checked against the settings
classes the services read, so a renamed setting or a changed port fails here
rather than in a container that silently ignores it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from switchboard_classifier.settings import ClassifierSettings
from switchboard_ingest.settings import IngestSettings
from switchboard_notifier.settings import NotifierSettings
from switchboard_responder.settings import ResponderSettings
from switchboard_router.settings import RouterSettings
from switchboard_shared.settings import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"

SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "classifier": ClassifierSettings,
    "router": RouterSettings,
    "responder": ResponderSettings,
    "notifier": NotifierSettings,
}
SERVICES = sorted(SETTINGS)
# Services compose runs whose metrics Prometheus does not scrape yet, each with its reason.


def default_port(service: str) -> int:
    port = SETTINGS[service].model_fields[f"{service}_port"].default
    assert isinstance(port, int)
    return port


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def compose_service(name: str) -> dict[str, Any]:
    services = load_compose().get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service = services[name]
    assert isinstance(service, dict)
    return service


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose `environment` as a mapping, whichever of its two forms is used."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host, container) pairs of a compose service's `ports`, short or long syntax."""
    pairs = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
        else:
            parts = str(entry).split("/")[0].split(":")
            assert len(parts) >= 2, f"port {entry!r} is not published on the host"
            pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def compose_build(name: str) -> dict[str, Any]:
    build = compose_service(name).get("build")
    assert isinstance(build, dict), f"{name} has no build section with a dockerfile"
    return build


def dockerfile_path(name: str) -> Path:
    build = compose_build(name)
    context = ROOT / build.get("context", ".")
    return (context / build.get("dockerfile", "Dockerfile")).resolve()


def build_args(name: str) -> dict[str, str]:
    """The build arguments compose passes when it builds a service's image."""
    return {key: str(value) for key, value in (compose_build(name).get("args") or {}).items()}


def dockerfile_as_built(name: str) -> str:
    """The Dockerfile with the service's build arguments put in, as Docker reads it for it."""
    text = dockerfile_path(name).read_text()
    for arg, value in build_args(name).items():
        text = text.replace(f"${{{arg}}}", value)
    return text


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    assert isinstance(members, list)
    return members


def manifest_copies(text: str) -> list[str]:
    """The `COPY <member>/pyproject.toml ...` lines of a Dockerfile, in order."""
    return re.findall(r"^COPY (\S+)/pyproject\.toml \1/pyproject\.toml$", text, re.MULTILINE)


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_built_from_a_dockerfile_that_exists(name):
    path = dockerfile_path(name)
    assert path.is_file(), f"{name}: {path} does not exist"
    assert path == (ROOT / "Dockerfile").resolve()


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_built_with_its_name_and_settings_port(name):
    assert build_args(name) == {
        "SERVICE": name,
        "SERVICE_ENV": name.upper(),
        "SERVICE_PORT": str(default_port(name)),
    }
    # The image binds all interfaces on that port even where no environment says so.
    text = dockerfile_as_built(name)
    assert f"{ENV_PREFIX}{name.upper()}_HOST=0.0.0.0" in text
    assert f"{ENV_PREFIX}{name.upper()}_PORT={default_port(name)}" in text


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_publishes_its_settings_default_port(name):
    port = default_port(name)
    assert (port, port) in published_ports(compose_service(name))
    # A port set in the environment must agree with the one published.
    env = environment(compose_service(name))
    assert env.get(f"{ENV_PREFIX}{name.upper()}_PORT", str(port)) == str(port)


@pytest.mark.parametrize("name", SERVICES)
def test_each_dockerfile_exposes_and_health_checks_the_service_port(name):
    text = dockerfile_as_built(name)
    port = default_port(name)
    assert re.search(rf"^EXPOSE {port}$", text, re.MULTILINE), f"{name}: no EXPOSE {port}"
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert healthcheck, f"{name}: no HEALTHCHECK"
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck.group(0)


@pytest.mark.parametrize("name", SERVICES)
def test_each_dockerfile_runs_its_service_module_as_a_non_root_user(name):
    text = dockerfile_as_built(name)
    # exec: python, not the shell, is process 1 and gets the stop signal.
    assert re.search(rf"^CMD exec python -m switchboard_{name}$", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users, f"{name}: the image runs as root"
    assert users[-1] not in {"root", "0"}
    assert f"--package switchboard-{name}" in text


@pytest.mark.parametrize("name", SERVICES)
def test_each_dockerfile_copies_every_workspace_manifest_before_syncing(name):
    text = dockerfile_as_built(name)
    assert sorted(manifest_copies(text)) == sorted(workspace_members())
    first_sync = text.index("uv sync")
    last_manifest = text.rindex("/pyproject.toml")
    assert last_manifest < first_sync
    assert "--no-install-workspace" in text[first_sync : text.index("\n", first_sync)]


def test_the_services_are_built_from_one_dockerfile():
    assert {dockerfile_path(name) for name in SERVICES} == {(ROOT / "Dockerfile").resolve()}


@pytest.mark.parametrize("name", SERVICES)
def test_every_switchboard_variable_in_compose_is_a_setting_of_that_service(name):
    fields = {f"{ENV_PREFIX}{field.upper()}" for field in SETTINGS[name].model_fields}
    named = {key for key in environment(compose_service(name)) if key.startswith(ENV_PREFIX)}
    assert named, f"{name}: no SWITCHBOARD_* variables at all"
    unknown = named - fields
    assert not unknown, f"{name}: {sorted(unknown)} are not fields of {SETTINGS[name].__name__}"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_binds_all_interfaces_and_waits_for_healthy_dependencies(name):
    service = compose_service(name)
    assert environment(service).get(f"{ENV_PREFIX}{name.upper()}_HOST") == "0.0.0.0"
    depends_on = service.get("depends_on")
    assert isinstance(depends_on, dict) and "kafka" in depends_on, f"{name}: not after kafka"
    for dependency, condition in depends_on.items():
        assert condition.get("condition") == "service_healthy", f"{name} -> {dependency}"


def test_kafka_is_an_apache_kafka_image_in_kraft_mode():
    kafka = compose_service("kafka")
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    assert not any("ZOOKEEPER" in key for key in env)
    assert "zookeeper" not in load_compose()["services"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert "kafka-broker-api-versions.sh" in str(kafka["healthcheck"]["test"])


@pytest.mark.parametrize("name", SERVICES)
def test_services_bootstrap_from_the_address_kafka_advertises(name):
    advertised = environment(compose_service("kafka"))["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    bootstrap = environment(compose_service(name))[f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS"]
    assert set(bootstrap.split(",")) <= addresses


def test_router_database_url_points_at_the_compose_postgres_with_psycopg():
    url = make_url(environment(compose_service("router"))[f"{ENV_PREFIX}DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgres"
    postgres = compose_service("postgres")
    assert str(postgres["image"]).startswith("postgres:")
    pg_env = environment(postgres)
    assert url.port in (None, 5432)
    assert url.username == pg_env["POSTGRES_USER"]
    assert url.password == pg_env["POSTGRES_PASSWORD"]
    assert url.database == pg_env["POSTGRES_DB"]
    assert "pg_isready" in str(postgres["healthcheck"]["test"])
    assert compose_service("router")["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_prometheus_scrapes_every_service_where_compose_serves_it():
    prometheus = compose_service("prometheus")
    mounts = [str(volume) for volume in prometheus.get("volumes") or []]
    assert any(
        mount.startswith("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml")
        for mount in mounts
    ), "prometheus does not mount deploy/prometheus/prometheus.yml"
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    scraped: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job.get("static_configs", []):
            service = static.get("labels", {}).get("service")
            scraped.setdefault(service, set()).update(static["targets"])
    for name in SERVICES:
        assert name in load_compose()["services"]
        # Metrics are served on a port of their own; the API port no longer has them.
        env = environment(compose_service(name))
        metrics_port = env.get(f"{ENV_PREFIX}{name.upper()}_METRICS_PORT")
        assert metrics_port, f"{name}: no {ENV_PREFIX}{name.upper()}_METRICS_PORT in compose"
        assert int(metrics_port) != default_port(name)
        assert f"{name}:{metrics_port}" in scraped.get(name, set()), (
            f"prometheus does not scrape {name} at {name}:{metrics_port}"
        )
        assert f"{name}:{default_port(name)}" not in scraped.get(name, set())


def test_prometheus_mounts_its_alert_rules_beside_its_config():
    config = yaml.safe_load(PROMETHEUS_FILE.read_text())
    mounts = [str(volume) for volume in compose_service("prometheus").get("volumes") or []]
    for rule_file in config.get("rule_files") or []:
        # Prometheus resolves rule_files relative to the config file.
        source = PROMETHEUS_FILE.parent / rule_file
        assert source.is_file(), f"prometheus.yml names {rule_file}, which does not exist"
        mount = f"./deploy/prometheus/{rule_file}:/etc/prometheus/{rule_file}"
        assert any(m.startswith(mount) for m in mounts), f"{rule_file} is not mounted"
    assert config.get("rule_files"), "prometheus.yml loads no alert rules"


def test_grafana_is_provisioned_with_the_dashboards_and_compose_prometheus():
    grafana = compose_service("grafana")
    assert str(grafana["image"]).startswith("grafana/grafana:")
    assert (3000, 3000) in published_ports(grafana)
    mounts = {
        str(volume).rsplit(":", 1)[0] if str(volume).endswith(":ro") else str(volume)
        for volume in grafana.get("volumes") or []
    }
    mounted = dict(mount.split(":", 1) for mount in mounts)
    provisioning = mounted.get("./deploy/grafana/provisioning")
    dashboards_at = mounted.get("./deploy/grafana/dashboards")
    assert provisioning == "/etc/grafana/provisioning"
    providers = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/switchboard.yml").read_text()
    )["providers"]
    assert [p["options"]["path"] for p in providers] == [dashboards_at]
    assert sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")), "no dashboards"
    datasources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    prometheus_port = published_ports(compose_service("prometheus"))[0][1]
    assert [d["url"] for d in datasources] == [f"http://prometheus:{prometheus_port}"]
    assert "prometheus" in grafana.get("depends_on", [])


def test_compose_ingest_never_publishes_open_intake():
    ingest = compose_service("ingest")
    env = environment(ingest)
    assert env.get(f"{ENV_PREFIX}INGEST_ALLOW_OPEN", "false").lower() not in ("true", "1", "yes")
    keys = env.get(f"{ENV_PREFIX}INGEST_API_KEYS_FILE")
    assert keys, "ingest in compose has no API keys file"
    secret = keys.removeprefix("/run/secrets/")
    assert secret in (ingest.get("secrets") or []), f"{keys} is not a secret ingest mounts"
    declared = (load_compose().get("secrets") or {}).get(secret) or {}
    # The file comes from the operator, and compose stops when it is not given.
    assert ":?" in str(declared.get("file")), declared
