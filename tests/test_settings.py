"""Configuration: every setting is documented in .env.example and read from TAMTAM_* variables."""

from __future__ import annotations

from shared.config import ROOT, Settings


def test_every_setting_is_documented_in_env_example():
    documented = (ROOT / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        variable = f"TAMTAM_{name.upper()}"
        if name == "kafka_bootstrap_servers":
            variable = "KAFKA_BOOTSTRAP_SERVERS"
        assert f"# {variable}=" in documented, f"{variable} is missing from .env.example"
        assert field.description, f"{name} has no description"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TAMTAM_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("TAMTAM_DEMO", "0")
    settings = Settings(_env_file=None)
    assert settings.topic_partitions == 12
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.demo is False
