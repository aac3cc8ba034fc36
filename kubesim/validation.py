"""Validation that users notice: names, labels, workload selectors, immutable fields,
and unknown top-level fields under `fieldValidation=Strict` (kubectl's default).

`operations.py` calls `validate()` before every stored write. Without the real schemas,
only these common mistakes are caught; everything else is accepted as written.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from kubesim import schemas
from kubesim.errors import ApiError, StatusReason, bad_request
from kubesim.resources import ResourceType


class FieldValidation(StrEnum):
    """The `fieldValidation` query parameter: what unknown fields cost."""

    STRICT = "Strict"  # refused (kubectl's default)
    WARN = "Warn"  # accepted, with a Warning header (the server's default)
    IGNORE = "Ignore"

    @classmethod
    def parse(cls, value: str | None) -> FieldValidation:
        """The mode of a request; unknown values are a 400 like the real server's."""
        try:
            return cls(value or cls.WARN)
        except ValueError:
            raise bad_request(
                f"fieldValidation must be one of Strict, Warn, Ignore: {value!r}"
            ) from None


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

_WORKLOADS = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
    }
)
# Resources whose names must be DNS labels (no dots), as in the API server.
_LABEL_NAMED = frozenset({("", "namespaces"), ("", "services")})
_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_COMMON_TOP = frozenset({"apiVersion", "kind", "metadata"})
_SPEC_STATUS = frozenset({"spec", "status"})
# Top-level fields of the kinds that do not follow the spec/status shape (None: not
# checked, for kinds with many top-level fields).
_TOP_FIELDS: dict[tuple[str, str], frozenset[str] | None] = {
    ("", "configmaps"): frozenset({"data", "binaryData", "immutable"}),
    ("", "secrets"): frozenset({"data", "stringData", "type", "immutable"}),
    ("", "serviceaccounts"): frozenset(
        {"secrets", "imagePullSecrets", "automountServiceAccountToken"}
    ),
    ("", "events"): None,
    ("", "podtemplates"): None,
    ("", "componentstatuses"): None,
    ("", "bindings"): None,
    ("apps", "controllerrevisions"): None,
    ("events.k8s.io", "events"): None,
    ("", "endpoints"): None,
    ("discovery.k8s.io", "endpointslices"): None,
    ("rbac.authorization.k8s.io", "roles"): None,
    ("rbac.authorization.k8s.io", "clusterroles"): None,
    ("rbac.authorization.k8s.io", "rolebindings"): None,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): None,
    ("storage.k8s.io", "storageclasses"): None,
    ("scheduling.k8s.io", "priorityclasses"): None,
    ("node.k8s.io", "runtimeclasses"): None,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): None,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): None,
}


def _invalid(rt: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    detail = ", ".join(f"{field}: {message}" for field, message in causes)
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(
        422,
        StatusReason.INVALID,
        f'{kind} "{name}" is invalid: {detail}',
        details={
            "name": name,
            "group": rt.group,
            "kind": rt.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes
            ],
        },
    )


def check_unknown_fields(
    rt: ResourceType, body: dict[str, Any], mode: FieldValidation
) -> list[str]:
    """Unknown top-level and metadata fields; raises under Strict, else returns warnings."""
    if rt.custom or mode is FieldValidation.IGNORE:
        return []
    name = schemas.model_for(rt.group, rt.version, rt.kind)
    unknown: list[str] = []
    if name is not None:
        unknown = schemas.unknown_fields(name, body)
    else:  # no schema for this kind: check what every kind shares
        allowed = _TOP_FIELDS.get(rt.key, _SPEC_STATUS)
        if allowed is not None:
            unknown += [k for k in body if k not in _COMMON_TOP and k not in allowed]
        unknown += [f"metadata.{k}" for k in body.get("metadata") or {} if k not in _META_FIELDS]
    if unknown and mode is FieldValidation.STRICT:
        fields = ", ".join(f'unknown field "{f}"' for f in sorted(unknown))
        raise bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a '
            f"{rt.kind}: strict decoding error: {fields}"
        )
    return [f'unknown field "{f}"' for f in sorted(unknown)]


def check_types(rt: ResourceType, body: dict[str, Any]) -> None:
    """400 for a body whose fields have the wrong JSON types, as the typed decoder says."""
    name = None if rt.custom else schemas.model_for(rt.group, rt.version, rt.kind)
    if name is not None:
        found = schemas.type_errors(name, body)
    else:  # no schema: metadata is still ObjectMeta
        found = schemas.type_errors("V1ObjectMeta", body.get("metadata"), "metadata")
    if found:
        raise bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a '
            f"{rt.kind}: json: {found[0]}"
        )


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid for the mistakes a real API server rejects."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    causes: list[tuple[str, str]] = []
    pattern = _LABEL if rt.key in _LABEL_NAMED else _SUBDOMAIN
    limit = 63 if rt.key in _LABEL_NAMED else 253
    if not pattern.fullmatch(name) or len(name) > limit:
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 '
                f"{'label' if limit == 63 else 'subdomain'} must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, local = str(key).rpartition("/")
        if (
            not _QUALIFIED_NAME.fullmatch(local)
            or len(local) > 63
            or (prefix and not _SUBDOMAIN.fullmatch(prefix))
        ):
            causes.append(
                (
                    "metadata.labels",
                    f'Invalid value: "{key}": name part must '
                    "consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            causes.append(
                (
                    "metadata.labels",
                    f'Invalid value: "{value}": a valid label '
                    "must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric "
                    "character",
                )
            )
    if rt.key in _WORKLOADS:
        causes += _workload_causes(obj, old)
    if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        causes += _crd_causes(obj)
    if causes:
        raise _invalid(rt, name, causes)


def _crd_causes(crd: dict[str, Any]) -> list[tuple[str, str]]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes = [
        (f"spec.{field}", "Required value")
        for field, value in (
            ("group", spec.get("group")),
            ("names.plural", names.get("plural")),
            ("names.kind", names.get("kind")),
            ("versions", spec.get("versions")),
        )
        if not value
    ]
    versions = spec.get("versions") or []
    if any(not v.get("name") for v in versions):
        causes.append(("spec.versions.name", "Required value"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not causes and crd["metadata"].get("name") != expected:
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{crd["metadata"].get("name")}": '
                f'must be spec.names.plural+"."+spec.group',
            )
        )
    return causes


def _workload_causes(obj: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    causes: list[tuple[str, str]] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    else:
        wanted = selector.get("matchLabels") or {}
        if any(labels.get(k) != v for k, v in wanted.items()):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {labels}: `selector` does not match template `labels`",
                )
            )
        if old is not None and selector != (old.get("spec") or {}).get("selector"):
            causes.append(("spec.selector", f"Invalid value: {selector}: field is immutable"))
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"spec.template.spec.containers[{i}].name", "Required value"))
        elif not container.get("image"):
            causes.append((f"spec.template.spec.containers[{i}].image", "Required value"))
    return causes
