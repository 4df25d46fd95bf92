"""The Kubernetes overlays agree with the code: topics, settings, probes, scaling caps.

Each overlay in deploy/k8s/overlays is rendered offline by deploy/k8s/render.sh
(`kubectl kustomize`, or a pinned kustomize it installs with `go install`), so
what is checked is what `kubectl apply -k` would send.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from switchboard_classifier.settings import ClassifierSettings
from switchboard_ingest.settings import IngestSettings
from switchboard_notifier.settings import NotifierSettings
from switchboard_responder.settings import ResponderSettings
from switchboard_router.settings import RouterSettings
from switchboard_shared import topics
from switchboard_shared.settings import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
RENDER = K8S / "render.sh"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())

SETTINGS: dict[str, type[BaseSettings]] = {
    "switchboard-ingest": IngestSettings,
    "switchboard-classifier": ClassifierSettings,
    "switchboard-router": RouterSettings,
    "switchboard-responder": ResponderSettings,
    "switchboard-notifier": NotifierSettings,
}
# The topic each lag-scaled stage consumes.
CONSUMES = {
    "switchboard-classifier": topics.RAW,
    "switchboard-router": topics.CLASSIFIED,
    "switchboard-responder": topics.REPLIES,
    "switchboard-notifier": topics.ESCALATED,
}


@pytest.fixture(scope="session")
def renderer() -> str:
    """A Kustomize renderer, installed by deploy/k8s/render.sh (go install) if none is there."""
    result = subprocess.run(
        ["bash", str(RENDER), "--install"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="session")
def rendered(renderer: str) -> dict[str, list[dict[str, Any]]]:
    """Every overlay's rendered objects."""
    out = {}
    for overlay in OVERLAYS:
        result = subprocess.run(
            ["bash", str(RENDER), overlay], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{overlay} ({renderer}): {result.stderr}"
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_name(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, kind)}


def test_there_are_dev_and_production_overlays():
    assert {"dev", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_in_code_has_a_kafka_topic_with_its_partitions_and_retention(rendered, overlay):
    docs = rendered[overlay]
    declared = {doc["spec"]["topicName"]: doc for doc in of_kind(docs, "KafkaTopic")}
    clusters = set(by_name(docs, "Kafka"))
    for spec in topics.ALL:
        topic = declared.get(spec.name())
        assert topic, f"{overlay}: no KafkaTopic for {spec.name()}"
        assert topic["spec"]["partitions"] == spec.partitions, spec.name()
        assert int(topic["spec"]["config"]["retention.ms"]) == spec.retention_ms, spec.name()
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] in clusters
    assert set(declared) == {spec.name() for spec in topics.ALL}, "a KafkaTopic not in code"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_runs_in_kraft_mode_from_node_pools(rendered, overlay):
    docs = rendered[overlay]
    (kafka,) = of_kind(docs, "Kafka")
    assert "zookeeper" not in kafka["spec"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    pools = of_kind(docs, "KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert all(pool["metadata"]["labels"]["strimzi.io/cluster"] == "switchboard" for pool in pools)
    brokers = sum(pool["spec"]["replicas"] for pool in pools if "broker" in pool["spec"]["roles"])
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] <= brokers
        assert int(topic["spec"]["config"]["min.insync.replicas"]) <= topic["spec"]["replicas"]
    assert "kafkaExporter" in kafka["spec"], "the lag alert needs Strimzi's Kafka Exporter"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_probes_resources_and_a_disruption_budget(rendered, overlay):
    docs = rendered[overlay]
    deployments = by_name(docs, "Deployment")
    assert set(deployments) == set(SETTINGS)
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        for container in pod["spec"]["containers"]:
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"cpu", "memory"} <= set(resources["limits"]), name
            port = SETTINGS[name].model_fields[f"{name.split('-')[1]}_port"].default
            assert port in [p["containerPort"] for p in container["ports"]], name
        labels = pod["metadata"]["labels"]
        assert any(
            budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
            for budget in budgets
        ), f"{overlay}: {name} has no PodDisruptionBudget"


def environment_names(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> set[str]:
    """Every variable a Deployment's containers get: ConfigMap keys and env entries."""
    config_maps = by_name(docs, "ConfigMap")
    names = set()
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for source in container.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            assert ref in config_maps, f"{ref} is not rendered"
            names.update(config_maps[ref]["data"])
        names.update(entry["name"] for entry in container.get("env", []))
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_map_and_env_keys_are_real_settings_of_their_service(rendered, overlay):
    docs = rendered[overlay]
    for name, deployment in by_name(docs, "Deployment").items():
        fields = {f"{ENV_PREFIX}{field.upper()}" for field in SETTINGS[name].model_fields}
        named = environment_names(docs, deployment)
        assert {f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS", f"{ENV_PREFIX}CREATE_TOPICS"} <= named
        unknown = {key for key in named if key.startswith(ENV_PREFIX)} - fields
        assert not unknown, f"{overlay}: {name} gets {sorted(unknown)}, not settings"
        assert named <= fields, f"{overlay}: {name} gets non-Switchboard variables"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_shipped(rendered, overlay):
    docs = rendered[overlay]
    assert not of_kind(docs, "Secret"), "secret values do not belong in the repository"
    router = by_name(docs, "Deployment")["switchboard-router"]
    env = {e["name"]: e for e in router["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "secretKeyRef" in env[f"{ENV_PREFIX}DATABASE_URL"]["valueFrom"]
    # The responder's ledger URL and the platform accounts' tokens come from Secrets too.
    responder = container_env(by_name(docs, "Deployment")["switchboard-responder"])
    for key in ("DATABASE_URL", "RESPONDER_CHANNELS"):
        assert "secretKeyRef" in responder[f"{ENV_PREFIX}{key}"]["valueFrom"], key
    # So do the notifier's database URL, webhook signing key and SMS token.
    notifier = container_env(by_name(docs, "Deployment")["switchboard-notifier"])
    for key in ("DATABASE_URL", "NOTIFIER_WEBHOOK_SECRET", "NOTIFIER_SMS_TOKEN"):
        assert "secretKeyRef" in notifier[f"{ENV_PREFIX}{key}"]["valueFrom"], key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_lag_scaling_is_capped_at_the_partitions_of_the_consumed_topic(rendered, overlay):
    docs = rendered[overlay]
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in of_kind(docs, "ScaledObject")}
    assert set(scaled) == set(CONSUMES)
    deployments = by_name(docs, "Deployment")
    config = by_name(docs, "ConfigMap")
    for name, spec in CONSUMES.items():
        scaled_object = scaled[name]
        assert scaled_object["spec"]["maxReplicaCount"] <= spec.partitions, name
        assert 1 <= scaled_object["spec"]["minReplicaCount"] <= spec.partitions
        (trigger,) = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["topic"] == spec.name()
        # The trigger watches the group the service really joins.
        service = name.split("-")[1]
        group_key = f"{ENV_PREFIX}{service.upper()}_GROUP_ID"
        groups = {cm["data"][group_key] for cm in config.values() if group_key in cm["data"]}
        default = SETTINGS[name].model_fields[f"{service}_group_id"].default
        assert trigger["metadata"]["consumerGroup"] in (groups or {default})
        assert name in deployments


def common_settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The switchboard-common ConfigMap every Deployment reads."""
    (common,) = [
        cm
        for cm in of_kind(docs, "ConfigMap")
        if cm["metadata"]["name"].startswith("switchboard-common")
    ]
    data: dict[str, str] = common["data"]
    return data


def protocol_of(listener: dict[str, Any]) -> str:
    """The client security protocol a Strimzi listener speaks."""
    sasl = listener.get("authentication", {}).get("type", "").startswith("scram-sha-")
    return {
        (False, False): "PLAINTEXT",
        (True, False): "SSL",
        (False, True): "SASL_PLAINTEXT",
        (True, True): "SASL_SSL",
    }[(bool(listener["tls"]), sasl)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_bootstrap_from_a_strimzi_listener_speaking_its_protocol(rendered, overlay):
    docs = rendered[overlay]
    (kafka,) = of_kind(docs, "Kafka")
    common = common_settings(docs)
    assert not any(
        f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS" in cm["data"]
        for cm in of_kind(docs, "ConfigMap")
        if cm["data"] is not common
    ), "one bootstrap address for every service"
    host, port = common[f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS"].split(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    (listener,) = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == int(port)]
    protocol = common.get(f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    assert protocol == protocol_of(listener)
    if protocol.startswith("SASL"):
        assert common[f"{ENV_PREFIX}KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert listener["authentication"]["type"] == "scram-sha-512"
    for scaled_object in of_kind(docs, "ScaledObject"):
        metadata = scaled_object["spec"]["triggers"][0]["metadata"]
        assert metadata["bootstrapServers"] == f"{host}:{port}"
        assert metadata.get("tls", "disable") == ("enable" if listener["tls"] else "disable")
        assert metadata.get("sasl", "none") == (
            "scram_sha512" if protocol.startswith("SASL") else "none"
        )


def test_production_reaches_kafka_only_over_tls_as_scram_users_under_acls(rendered):
    docs = rendered["production"]
    (kafka,) = of_kind(docs, "Kafka")
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners and all(protocol_of(listener) == "SASL_SSL" for listener in listeners)
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert common_settings(docs)[f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


# What each service does on Kafka: topics it reads, topics it writes, its group.
READS = {
    "switchboard-ingest": [topics.RAW],  # its duplicate memory tails the raw topic, no group
    "switchboard-classifier": [topics.RAW],
    "switchboard-router": [topics.CLASSIFIED, topics.REPLY_OUTCOMES],
    "switchboard-responder": [topics.REPLIES],
    "switchboard-notifier": [topics.ESCALATED, topics.ROUTED],
}
WRITES = {
    "switchboard-ingest": [topics.RAW, topics.DEADLETTER],
    "switchboard-classifier": [topics.CLASSIFIED, topics.DEADLETTER],
    "switchboard-router": [
        topics.ROUTED,
        topics.ESCALATED,
        topics.FEEDBACK,
        topics.REPLIES,
        topics.DEADLETTER,
    ],
    "switchboard-responder": [topics.REPLY_OUTCOMES, topics.DEADLETTER],
    "switchboard-notifier": [topics.DEADLETTER],
}


def container_env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in container.get("env", [])}


def granted(user: dict[str, Any], kind: str, name: str) -> set[str]:
    """Operations a KafkaUser's ACLs grant on one literal resource."""
    return {
        operation
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == kind
        and acl["resource"]["name"] == name
        and acl["resource"].get("patternType", "literal") == "literal"
        for operation in acl["operations"]
    }


def group_of(docs: list[dict[str, Any]], name: str) -> str | None:
    service = name.split("-")[1]
    key = f"{service}_group_id"
    if key not in SETTINGS[name].model_fields:
        return None
    for cm in of_kind(docs, "ConfigMap"):
        if f"{ENV_PREFIX}{key.upper()}" in cm["data"]:
            return str(cm["data"][f"{ENV_PREFIX}{key.upper()}"])
    return str(SETTINGS[name].model_fields[key].default)


def test_each_service_authenticates_as_its_own_user_and_checks_the_cluster_ca(rendered):
    docs = rendered["production"]
    (kafka,) = of_kind(docs, "Kafka")
    users = by_name(docs, "KafkaUser")
    cafile = Path(common_settings(docs)[f"{ENV_PREFIX}KAFKA_SSL_CAFILE"])
    seen_users = set()
    for name, deployment in by_name(docs, "Deployment").items():
        env = container_env(deployment)
        username = env[f"{ENV_PREFIX}KAFKA_SASL_USERNAME"]["value"]
        user = users[username]
        seen_users.add(username)
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        # The password is the one the user operator wrote for this user.
        password = env[f"{ENV_PREFIX}KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password == {"name": username, "key": "password"}
        # The CA file is the cluster CA secret's ca.crt, mounted where the setting points.
        pod = deployment["spec"]["template"]["spec"]
        (mount,) = [
            m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == str(cafile.parent)
        ]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
        assert {"key": "ca.crt", "path": cafile.name} in volume["secret"]["items"]
        # Its ACLs cover what it does, and literal topic grants go no further.
        for spec in READS[name]:
            assert {"Describe", "Read"} <= granted(user, "topic", spec.name()), (name, spec)
        for spec in WRITES[name]:
            assert {"Describe", "Write"} <= granted(user, "topic", spec.name()), (name, spec)
        group = group_of(docs, name)
        if group is not None:
            assert "Read" in granted(user, "group", group), name
        needed = {spec.name() for spec in READS[name] + WRITES[name]}
        for acl in user["spec"]["authorization"]["acls"]:
            assert "All" not in acl["operations"] and acl["resource"].get("name") != "*"
            if acl["resource"]["type"] == "topic" and acl["resource"]["patternType"] == "literal":
                assert acl["resource"]["name"] in needed, (name, acl)
            if acl["resource"]["patternType"] == "prefix":
                # Only faust's own topics, named after the classifier's app id.
                assert acl["resource"]["name"] == f"{group}-", (name, acl)
    assert seen_users == set(users), "a KafkaUser no service uses"


def test_lag_scaling_authenticates_as_the_service_it_scales(rendered):
    docs = rendered["production"]
    (kafka,) = of_kind(docs, "Kafka")
    auths = by_name(docs, "TriggerAuthentication")
    deployments = by_name(docs, "Deployment")
    for scaled_object in of_kind(docs, "ScaledObject"):
        target = deployments[scaled_object["spec"]["scaleTargetRef"]["name"]]
        (trigger,) = scaled_object["spec"]["triggers"]
        auth = auths[trigger["authenticationRef"]["name"]]["spec"]
        (env,) = auth["env"]
        assert env["parameter"] == "username"
        assert env["name"] in container_env(target)
        assert env["containerName"] == target["spec"]["template"]["spec"]["containers"][0]["name"]
        secrets = {ref["parameter"]: ref for ref in auth["secretTargetRef"]}
        username = container_env(target)[env["name"]]["value"]
        assert (secrets["password"]["name"], secrets["password"]["key"]) == (username, "password")
        assert secrets["ca"]["name"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
        assert secrets["ca"]["key"] == "ca.crt"


# Who may reach each service's API port, by namespace (empty: nobody but the kubelet).
API_FROM = {
    "switchboard-ingest": {"ingress-nginx"},
    "switchboard-classifier": set(),
    "switchboard-router": {"ingress-nginx"},
    "switchboard-responder": set(),
    "switchboard-notifier": set(),
}
MONITORING = "monitoring"


def _namespaces(peers: list[dict[str, Any]]) -> set[str]:
    names = set()
    for peer in peers:
        assert set(peer) == {"namespaceSelector"}, f"a peer beyond a namespace: {peer}"
        names.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    return names


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_network_policy_opening_its_ports_to_the_right_peers_only(
    rendered, overlay
):
    docs = rendered[overlay]
    policies = of_kind(docs, "NetworkPolicy")
    config = {k: v for cm in of_kind(docs, "ConfigMap") for k, v in cm["data"].items()}
    # The brokers' port is the listener the services bootstrap from (plain in dev, TLS in production).
    plain = int(common_settings(docs)[f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
    for name, deployment in by_name(docs, "Deployment").items():
        service = name.split("-")[1]
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        covering = [
            p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, f"{overlay}: {name} is covered by {len(covering)} policies"
        spec = covering[0]["spec"]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}, name
        (container,) = pod["spec"]["containers"]
        api_port = SETTINGS[name].model_fields[f"{service}_port"].default
        metrics_port = int(config[f"{ENV_PREFIX}{service.upper()}_METRICS_PORT"])
        assert metrics_port != api_port
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics_port), name
        opened: dict[int, set[str]] = {}
        for rule in spec["ingress"]:
            for port in rule["ports"]:
                number = _port_number(container, port["port"])
                opened.setdefault(number, set()).update(_namespaces(rule["from"]))
        assert opened.get(metrics_port) == {MONITORING}, f"{name}: metrics open to {opened}"
        assert opened.get(api_port, set()) == API_FROM[name], f"{name}: API open to {opened}"
        assert set(opened) <= {api_port, metrics_port}, f"{name}: other ports open: {opened}"
        # Egress: DNS, the brokers' listener, PostgreSQL for the router and the responder,
        # and HTTPS for the responder (the platforms' APIs).
        egress_ports = {
            (port["port"], port.get("protocol", "TCP"))
            for rule in spec["egress"]
            for port in rule["ports"]
        }
        expected = {(53, "UDP"), (53, "TCP"), (plain, "TCP")}
        if service in ("router", "responder", "notifier"):
            expected.add((5432, "TCP"))
        if service in ("responder", "notifier"):
            expected.add((443, "TCP"))
        if service == "notifier":
            expected.add((587, "TCP"))  # SMTP submission to the mail relay
        assert egress_ports == expected, f"{name}: egress to {egress_ports}"
        for rule in spec["egress"]:
            if any(port["port"] == plain for port in rule["ports"]):
                (peer,) = rule["to"]
                assert peer["podSelector"]["matchLabels"]["strimzi.io/cluster"] == "switchboard"
            elif all(port["port"] != 53 for port in rule["ports"]):
                # An external database, or the platforms on the internet.
                assert service in ("router", "responder", "notifier") and "to" not in rule
