"""docker-compose.yml, the Dockerfile and `make compose-up` agree with the code: services,
ports, and the variables baton reads (no Docker engine needed: the files are parsed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from api.serve import ServeOptions
from engine.kube.aliases import aliased

ROOT = Path(__file__).resolve().parents[2]
# variables read by libraries rather than by baton's code
LIBRARY_VARIABLES = {
    "KUBECONFIG",  # kubernetes-asyncio's default kubeconfig
    "OTEL_SERVICE_NAME",  # the OpenTelemetry SDK's resource (engine.telemetry defers to it)
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _code_variables() -> set[str]:
    """Every environment variable name the code of baton reads."""
    found: set[str] = set()
    pattern = re.compile(
        r"""(?:environ\.get|env\.get|getenv|envvar=|env\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    for package in ("engine", "api", "projections"):
        for path in (ROOT / package).rglob("*.py"):
            found.update(pattern.findall(path.read_text()))
    return found


def _ports(service: dict[str, Any]) -> dict[int, int]:
    out = {}
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        out[int(container)] = int(host)
    return out


def test_the_four_services_are_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "jaeger", "k3s", "baton"}
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one")
    assert services["k3s"]["image"].startswith("rancher/k3s")
    assert services["baton"]["build"] == "."


def test_baton_listens_where_the_code_and_the_ports_say(compose: dict[str, Any]) -> None:
    baton = compose["services"]["baton"]
    port = ServeOptions().port
    assert _ports(baton) == {port: port}
    command = " ".join(baton["command"])
    assert f"--port {port}" in command and "--host 0.0.0.0" in command
    assert command.index("baton migrate") < command.index("baton serve")


def test_every_variable_given_to_baton_is_one_the_code_reads(compose: dict[str, Any]) -> None:
    env = compose["services"]["baton"]["environment"]
    read = _code_variables() | LIBRARY_VARIABLES
    assert {
        "BATON_DATABASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "BATON_JAEGER_URL",
        "BATON_KUBECONFIG",
    } <= read
    assert set(env) <= read, set(env) - read


def test_traces_go_to_jaeger_over_otlp_http(compose: dict[str, Any]) -> None:
    services = compose["services"]
    endpoint = urlsplit(services["baton"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", "jaeger", 4318)
    jaeger = services["jaeger"]
    assert str(jaeger["environment"]["COLLECTOR_OTLP_ENABLED"]).lower() == "true"
    assert _ports(jaeger) == {4318: 4318, 16686: 16686}
    ui = urlsplit(services["baton"]["environment"]["BATON_JAEGER_URL"])
    assert ui.port == _ports(jaeger)[16686]


def test_the_database_url_names_the_postgres_service(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    url = urlsplit(compose["services"]["baton"]["environment"]["BATON_DATABASE_URL"])
    assert url.hostname == "postgres" and url.port == 5432 and 5432 in _ports(postgres)
    pg_env = postgres["environment"]
    assert (url.username, url.password, url.path.lstrip("/")) == (
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
        pg_env["POSTGRES_DB"],
    )
    assert compose["services"]["baton"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )


def test_k3s_shares_its_kubeconfig_with_baton(compose: dict[str, Any]) -> None:
    k3s, baton = compose["services"]["k3s"], compose["services"]["baton"]
    output = Path(k3s["environment"]["K3S_KUBECONFIG_OUTPUT"])
    k3s_volume = next(
        v.split(":")[0] for v in k3s["volumes"] if v.split(":")[1] == str(output.parent)
    )
    mounted = {v.split(":")[0]: v.split(":")[1] for v in baton["volumes"]}
    assert mounted[k3s_volume] == str(output.parent)
    command = " ".join(baton["command"])
    assert str(output) in command and "https://k3s:6443" in command
    assert baton["environment"]["KUBECONFIG"] == baton["environment"]["BATON_KUBECONFIG"]
    home = Path(baton["environment"]["KUBECONFIG"]).parent
    assert str(home) in mounted.values()


def test_the_kubeconfig_aliases_reach_k3s_under_the_sample_context_names() -> None:
    k3s = {
        "apiVersion": "v1",
        "current-context": "default",
        "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "users": [{"name": "default", "user": {"token": "t"}}],
    }
    out = aliased(k3s, server="https://k3s:6443", contexts=["dev", "staging", "prod"])
    assert {c["name"] for c in out["contexts"]} == {"default", "dev", "staging", "prod"}
    assert out["clusters"][0]["cluster"]["server"] == "https://k3s:6443"
    assert all(c["context"]["cluster"] == "default" for c in out["contexts"])


def test_the_image_and_the_make_target() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert re.search(r"apt-get install .*\bgit\b", dockerfile)
    assert "pip install" in dockerfile
    assert f"--port {ServeOptions().port}" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^compose-up:.*\n\t(.+)$", makefile, re.M)
    assert target is not None and target.group(1).strip() == "docker compose up --build"
