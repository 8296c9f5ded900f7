"""GET /v1/networks lists every adapter, a third-party one installed through its entry point
included; POST /v1/validate counts a text the way each network does and names each problem."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.api.main import create_app
from shared.config import ROOT

pytestmark = pytest.mark.kafka

BUILTIN = {"sandbox", "mastodon", "bluesky", "x", "linkedin", "facebook", "instagram", "threads",
           "telegram", "discord"}


@pytest.fixture
def pigeon_installed(tmp_path: Path):
    """Install the test package `tamtam-pigeon` as a distribution on sys.path: its metadata
    declares a `tamtam.networks` entry point, exactly what pip would write."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests/plugins/thirdparty/tamtam_pigeon", site / "tamtam_pigeon")
    dist = site / "tamtam_pigeon-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tamtam-pigeon\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[tamtam.networks]\npigeon = tamtam_pigeon\n")
    sys.path.insert(0, str(site))
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("tamtam_pigeon", None)


def test_the_ten_adapters_and_an_installed_plugin_are_listed_with_their_limits(
    api_settings, agency_a, pigeon_installed
):
    with TestClient(create_app(api_settings)) as client:
        networks = {n["name"]: n for n in client.get("/v1/networks", headers=agency_a).json()}
    assert BUILTIN | {"pigeon"} == set(networks)
    assert networks["pigeon"]["plugin"] == "tamtam_pigeon"
    assert networks["pigeon"]["limits"]["max_length"] == 42
    assert networks["x"]["plugin"] == "builtin" and networks["x"]["limits"]["max_length"] == 280
    assert "threads" not in networks["linkedin"]["limits"]["capabilities"]  # declared absent


def test_an_allow_list_keeps_an_installed_plugin_out(api_settings, agency_a, pigeon_installed):
    settings = api_settings.model_copy(update={"load_plugins": "someone-else"})
    with TestClient(create_app(settings)) as client:
        names = {n["name"] for n in client.get("/v1/networks", headers=agency_a).json()}
    assert names == BUILTIN


def test_a_post_too_long_for_x_but_fine_for_mastodon_names_x_precisely(client, agency_a):
    text = "Notre galette des rois est de retour ! " * 8 + "https://cafe-tamtam.example/galette"
    answer = client.post("/v1/validate", headers=agency_a,
                         json={"text": text, "networks": ["x", "mastodon", "bluesky"]})
    assert answer.status_code == 200, answer.text
    verdicts = {v["network"]: v for v in answer.json()}
    x = verdicts["x"]
    assert x["fits"] is False and x["length"] == len(text) - 35 + 23 and x["limit"] == 280
    [problem] = x["problems"]
    assert problem["code"] == "too_long" and problem["where"] == "text"
    assert problem["message"].startswith(f"X: {x['length']} of 280 characters")
    assert "23" in problem["message"]  # says how links were counted
    assert verdicts["mastodon"]["fits"] is True and verdicts["mastodon"]["problems"] == []
    assert verdicts["bluesky"]["length"] == len(text)  # graphemes; the link counts in full


def test_media_problems_and_unknown_networks(client, agency_a):
    answer = client.post("/v1/validate", headers=agency_a, json={
        "text": "Photo du jour", "networks": ["mastodon"],
        "media": [{"mime_type": "application/pdf", "size_bytes": 10}]})
    [verdict] = answer.json()
    assert [p["code"] for p in verdict["problems"]] == ["media_type"]
    unknown = client.post("/v1/validate", headers=agency_a,
                          json={"text": "x", "networks": ["myspace"]})
    assert unknown.status_code == 422 and "myspace" in unknown.json()["detail"]
