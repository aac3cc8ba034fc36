"""Decoding of the protobuf bodies kubectl's typed commands send (`kubectl create ...`).

`handlers.py` calls `decode()` for `application/vnd.kubernetes.protobuf` bodies. Only the
kinds that `kubectl create <kind>` builds (Namespace, ConfigMap, Secret, ServiceAccount,
Deployment) and the reviews of `kubectl auth` are known, with the field numbers of the
Kubernetes `generated.proto` files; any other kind is a 415, as from a server that does not
speak protobuf.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from kubesim.errors import ApiError, StatusReason

MAGIC = b"k8s\x00"

# A field: (json name, type). Types: "string", "bytes", "int", "bool", "map", "bytesmap",
# "quantitymap", "strings", "intorstring", a message name, or "[]" + a message name.
Schema = dict[int, tuple[str, str]]

SCHEMAS: dict[str, Schema] = {
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", "[]OwnerReference"),
        14: ("finalizers", "strings"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "strings")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bytesmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        3: ("imagePullSecrets", "[]LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool"),
    },
    "LocalObjectReference": {1: ("name", "string")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {
        1: ("replicas", "int"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
        5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "int"),
    },
    "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", "intorstring"), 2: ("maxSurge", "intorstring")},
    "LabelSelector": {
        1: ("matchLabels", "map"),
        2: ("matchExpressions", "[]LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", "strings"),
    },
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "int"),
        6: ("dnsPolicy", "string"),
        7: ("nodeSelector", "map"),
        8: ("serviceAccountName", "string"),
        20: ("initContainers", "[]Container"),
    },
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "strings"),
        4: ("args", "strings"),
        5: ("workingDir", "string"),
        6: ("ports", "[]ContainerPort"),
        7: ("env", "[]EnvVar"),
        8: ("resources", "ResourceRequirements"),
        13: ("terminationMessagePath", "string"),
        14: ("imagePullPolicy", "string"),
        20: ("terminationMessagePolicy", "string"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        2: ("hostPort", "int"),
        3: ("containerPort", "int"),
        4: ("protocol", "string"),
        5: ("hostIP", "string"),
    },
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {1: ("limits", "quantitymap"), 2: ("requests", "quantitymap")},
    # `kubectl auth can-i` and `kubectl auth whoami`
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta")},
    "SelfSubjectRulesReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectRulesReviewSpec"),
    },
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
}


# Pointer fields: sent only when set, so a zero there means zero. Every other scalar is
# always sent and a zero is an unset value that JSON (omitempty) leaves out.
OPTIONAL = frozenset(
    {
        ("DeploymentSpec", "replicas"),
        ("DeploymentSpec", "revisionHistoryLimit"),
        ("DeploymentSpec", "progressDeadlineSeconds"),
        ("PodSpec", "terminationGracePeriodSeconds"),
        ("ConfigMap", "immutable"),
        ("Secret", "immutable"),
        ("ServiceAccount", "automountServiceAccountToken"),
        ("OwnerReference", "controller"),
        ("OwnerReference", "blockOwnerDeletion"),
    }
)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _message(data: bytes, name: str) -> dict[str, Any]:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue  # a field this emulator does not know: dropped, like proto3 unknowns
        key, kind = schema[number]
        if isinstance(value, int):
            if value or (name, key) in OPTIONAL:
                signed = value - (1 << 64) if value >= 1 << 63 else value
                out[key] = bool(value) if kind == "bool" else signed
        elif kind == "string":
            if value:
                out[key] = value.decode()
        elif kind == "strings":
            out.setdefault(key, []).append(value.decode())
        elif kind in ("map", "bytesmap", "quantitymap"):
            entry = dict(_fields(value))
            raw = entry.get(2, b"")
            assert isinstance(raw, bytes)
            if kind == "bytesmap":
                decoded: Any = base64.b64encode(raw).decode()
            elif kind == "quantitymap":
                decoded = dict(_fields(raw)).get(1, b"")
                decoded = decoded.decode() if isinstance(decoded, bytes) else str(decoded)
            else:
                decoded = raw.decode()
            map_key = entry.get(1, b"")
            out.setdefault(key, {})[
                map_key.decode() if isinstance(map_key, bytes) else str(map_key)
            ] = decoded
        elif kind == "intorstring":
            parts = dict(_fields(value))
            text = parts.get(3, b"")
            out[key] = (
                text.decode()
                if parts.get(1) == 1 and isinstance(text, bytes)
                else (parts.get(2, 0))
            )
        elif kind.startswith("[]"):
            out.setdefault(key, []).append(_message(value, kind[2:]))
        else:
            out[key] = _message(value, kind)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; 415 for kinds not known here."""
    if not body.startswith(MAGIC):
        raise _unsupported("the protobuf body lacks the k8s envelope")
    try:
        envelope = dict(_fields(body[len(MAGIC) :]))
        type_meta = envelope.get(1, b"")
        raw = envelope.get(2, b"")
        if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
            raise ValueError("no TypeMeta and raw object")
        meta = {n: v.decode() for n, v in _fields(type_meta) if isinstance(v, bytes)}
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise _unsupported(f"malformed protobuf envelope: {exc}") from None
    api_version, kind = meta.get(1, ""), meta.get(2, "")
    if kind not in SCHEMAS or not kind or kind[0].islower():
        raise _unsupported(f"protobuf bodies of kind {kind!r} are not emulated; send JSON")
    try:
        obj = _message(raw, kind)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise _unsupported(f"cannot decode protobuf {kind}: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}


def _unsupported(message: str) -> ApiError:
    return ApiError(415, StatusReason.UNSUPPORTED_MEDIA_TYPE, message)
