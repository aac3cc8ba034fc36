"""Rendering a release's manifests: plain YAML, overlays, kustomize, and every mistake."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from engine.render import RenderError, render_manifests
from engine.render.kustomize import find_kustomize


def files(**texts: str) -> dict[str, bytes]:
    return {name.replace("__", "/"): textwrap.dedent(t).encode() for name, t in texts.items()}


APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
"""
NS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.test
spec:
  scope: Cluster
  names: {kind: Widget}
---
apiVersion: example.test/v1
kind: Widget
metadata:
  name: w
"""


def test_plain_yaml_comes_out_in_apply_order_with_sources_and_namespaces() -> None:
    rendered = render_manifests(
        files(**{"app.yaml": APP, "z__ns.yml": NS, "crd.yaml": CRD}),
        environment="dev",
        namespace="shop-dev",
        prefix="deploy",
    )
    kinds = [o.kind for o in rendered.objects]
    assert kinds == ["Namespace", "CustomResourceDefinition", "Service", "Deployment", "Widget"]
    by_kind = {o.kind: o for o in rendered.objects}
    assert by_kind["Deployment"].source == "deploy/app.yaml:1"
    assert by_kind["Service"].source == "deploy/app.yaml:8"
    assert by_kind["Deployment"].namespace == "shop-dev"
    assert by_kind["Deployment"].body["metadata"]["namespace"] == "shop-dev"
    assert by_kind["Namespace"].namespace is None
    assert by_kind["Widget"].namespace is None  # its CRD says Cluster


def test_the_digest_is_stable_and_follows_content_not_file_layout() -> None:
    one = render_manifests(files(**{"a.yaml": APP, "b.yaml": NS}), environment="dev")
    two = render_manifests(files(**{"z.yaml": NS, "b__c.yaml": APP}), environment="dev")
    changed = render_manifests(
        files(**{"a.yaml": APP.replace("replicas: 1", "replicas: 2"), "b.yaml": NS}),
        environment="dev",
    )
    assert one.digest == two.digest
    assert one.digest != changed.digest
    assert one.digest.startswith("sha256:")


def test_a_plain_overlay_replaces_objects_for_its_environment_only() -> None:
    tree = files(
        **{
            "app.yaml": APP,
            "overlays__prod__web.yaml": APP.split("---")[0].replace("replicas: 1", "replicas: 5"),
            "overlays__prod__extra.yaml": NS,
        }
    )
    dev = render_manifests(tree, environment="dev")
    prod = render_manifests(tree, environment="prod")
    assert [o.kind for o in dev.objects] == ["Service", "Deployment"]
    assert [o.kind for o in prod.objects] == ["Namespace", "Service", "Deployment"]
    deployment = prod.objects[-1]
    assert deployment.body["spec"]["replicas"] == 5
    assert deployment.source == "overlays/prod/web.yaml:1"


KUSTOMIZATION = """\
resources:
  - app.yaml
commonLabels:
  app: shop
"""
OVERLAY = """\
resources:
  - ../../base
namePrefix: prod-
"""


def test_kustomize_builds_the_base_and_an_overlay_through_kubectl() -> None:
    # kustomize refuses a base that contains its overlays, hence base/ next to overlays/
    tree = files(
        **{
            "kustomization.yaml": "resources:\n  - base\n",
            "base__kustomization.yaml": KUSTOMIZATION,
            "base__app.yaml": APP,
            "overlays__prod__kustomization.yaml": OVERLAY,
        }
    )
    dev = render_manifests(tree, environment="dev", namespace="shop-dev", prefix="deploy")
    prod = render_manifests(tree, environment="prod", namespace="shop", prefix="deploy")
    assert [o.name for o in dev.objects] == ["web", "web"]
    assert dev.objects[0].body["metadata"]["labels"] == {"app": "shop"}
    assert dev.objects[0].source.startswith("kustomize deploy:")
    assert {o.name for o in prod.objects} == {"prod-web"}
    assert prod.objects[0].source.startswith("kustomize deploy/overlays/prod:")
    assert dev.digest != prod.digest


def test_kubectl_is_found_next_to_the_interpreter_first() -> None:
    assert find_kustomize() == [str(Path(sys.executable).parent / "kubectl"), "kustomize"]


def test_a_missing_kustomize_binary_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match=r"neither kubectl .* nor kustomize"):
        render_manifests(
            files(**{"kustomization.yaml": KUSTOMIZATION, "app.yaml": APP}), environment="dev"
        )


def test_a_failing_kustomization_names_its_file() -> None:
    tree = files(**{"kustomization.yaml": "resources:\n  - missing.yaml\n"})
    with pytest.raises(RenderError) as info:
        render_manifests(tree, environment="dev", prefix="deploy")
    assert info.value.file == "deploy/kustomization.yaml"
    assert "missing.yaml" in info.value.reason


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("apiVersion: v1\nkind: [Service\nmetadata: {}\n", 3, "bad YAML"),
        (NS + "---\napiVersion: v1\nmetadata:\n  name: x\n", 6, "object without kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", 1, "object without metadata.name"),
        ("- just\n- a list\n", 1, "document is not a mapping"),
        (APP + "---\n" + APP.split("---")[0], 13, "duplicate object Deployment web"),
    ],
)
def test_bad_manifests_name_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(RenderError) as info:
        render_manifests({"bad.yaml": text.encode()}, environment="dev", prefix="deploy")
    assert (info.value.file, info.value.line) == ("deploy/bad.yaml", line)
    assert reason in info.value.reason


def test_timestamps_stay_strings_so_the_digest_is_json() -> None:
    tree = {
        "cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        b"data: {when: 2026-01-01T00:00:00Z}\n"
    }
    rendered = render_manifests(tree, environment=None)
    assert rendered.objects[0].body["data"]["when"] == "2026-01-01T00:00:00Z"


def test_an_overlay_naming_the_namespace_still_replaces_the_base_object() -> None:
    prod_web = APP.split("---")[0].replace("name: web", "name: web\n  namespace: shop")
    tree = files(**{"app.yaml": APP, "overlays__prod__web.yaml": prod_web})
    prod = render_manifests(tree, environment="prod", namespace="shop")
    assert [(o.kind, o.namespace) for o in prod.objects] == [
        ("Service", "shop"),
        ("Deployment", "shop"),
    ]
    assert prod.objects[-1].source == "overlays/prod/web.yaml:1"


def test_the_same_object_twice_once_with_its_namespace_is_a_duplicate() -> None:
    explicit = APP.split("---")[0].replace("name: web", "name: web\n  namespace: shop")
    with pytest.raises(RenderError, match="duplicate object Deployment shop/web"):
        render_manifests(
            files(**{"a.yaml": APP, "b.yaml": explicit}), environment="prod", namespace="shop"
        )
