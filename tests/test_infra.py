"""Deployment files: they cannot run here (no Docker engine, no cluster), so CI checks that
they parse, that the Kubernetes manifests pass the Kubernetes schema, and that they agree
with the code (every topic, every service, the probes on the health endpoints)."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import yaml

from shared.config import ROOT, SERVICES
from shared.events import PAYLOADS

K8S = ROOT / "infra" / "k8s"

KAFKA_TOPIC_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {"type": "object", "required": ["name", "labels"],
                     "properties": {"labels": {"required": ["strimzi.io/cluster"]}}},
        "spec": {"type": "object", "required": ["topicName", "partitions", "replicas"],
                 "properties": {"topicName": {"type": "string"},
                                "partitions": {"type": "integer", "minimum": 1},
                                "replicas": {"type": "integer", "minimum": 1},
                                "config": {"type": "object"}},
                 "additionalProperties": False},
    },
}


def _documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_manifests_pass_the_schema_check():
    files = sorted(str(p) for p in K8S.glob("0[0-3]-*.yaml"))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *files],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_event_topic_has_a_kafka_topic_resource():
    resources = _documents(K8S / "04-kafka-topics.yaml")
    for resource in resources:
        jsonschema.validate(resource, KAFKA_TOPIC_SCHEMA)
    names = {r["spec"]["topicName"] for r in resources}
    assert set(PAYLOADS) <= names, "run: python infra/k8s/topics.py"
    assert {f"tamtam.dlq.{s}" for s in SERVICES} <= names


def test_every_service_is_deployed_with_probes_on_the_health_endpoints():
    deployments = {d["metadata"]["name"]: d for d in _documents(K8S / "03-services.yaml")
                   if d["kind"] == "Deployment"}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_compose_file_parses_and_runs_every_service():
    compose = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(SERVICES) <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    for name in SERVICES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        for dependency in services[name].get("depends_on", {}):
            assert dependency in services


def _tamtam_variables() -> dict[str, str]:
    """Every TAMTAM_* name the deployment files set, with the file that sets it."""
    found: dict[str, str] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _documents(path):
            for key in (doc.get("data") or {}) | (doc.get("stringData") or {}):
                found[key] = path.name
            template = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in template.get("containers", []):
                for variable in container.get("env", []):
                    found[variable["name"]] = path.name
    compose = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text())
    for block in [compose.get("x-tamtam-env", {})] + [
            service.get("environment", {}) for service in compose["services"].values()]:
        if isinstance(block, dict):
            for key in block:
                found[key] = "compose.yaml"
    return {name: where for name, where in found.items() if name.startswith("TAMTAM_")}


def test_every_setting_the_deployment_files_set_exists():
    """A misspelt variable would be silently ignored by the services: refuse it here."""
    from shared.config import Settings

    variables = _tamtam_variables()
    assert "TAMTAM_CONSUMER_THREADS" in variables and "TAMTAM_DATABASE_URL" in variables
    unknown = {name: where for name, where in variables.items()
               if name.removeprefix("TAMTAM_").lower() not in Settings.model_fields}
    assert unknown == {}
