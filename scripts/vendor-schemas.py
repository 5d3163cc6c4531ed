#!/usr/bin/env python3
"""Writes the schemas the fake Kubernetes API server holds requests and answers to.

- KServe's InferenceService (v1beta1) from its CustomResourceDefinition, and
- the Kubernetes objects Warden reads or writes, from the JSON schemas kubernetes-validate
  bundles (Kubernetes' OpenAPI, strict: unknown fields are errors),

with descriptions dropped and repeated subtrees shared under `$defs`, so the vendored files stay
small. Run with the Python of the kubernetes-validate venv (it has PyYAML):

    ~/.cache/warden-stack/k8s-validate/bin/python scripts/vendor-schemas.py \
        ../shared/reference/specs/kserve-inferenceservices.crd.yaml
"""

import hashlib
import json
import pathlib
import sys

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.31.0"
# The objects the fake serves or accepts.
KINDS = [
    "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.autoscaling.v1.Scale",
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.PodList",
    "io.k8s.api.core.v1.EventList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
]
OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/warden-sim/data"


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in ("description", "$schema", "$id")}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def canonical(node):
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def share_repeats(schema):
    """Replaces every subtree of more than 400 bytes that occurs twice or more by a `$ref`."""
    counts = {}

    def count(node):
        if isinstance(node, dict):
            key = canonical(node)
            counts[key] = counts.get(key, 0) + 1
            for v in node.values():
                count(v)
        elif isinstance(node, list):
            for v in node:
                count(v)

    count(schema)
    defs = {}

    def share(node):
        if isinstance(node, dict):
            key = canonical(node)
            if counts.get(key, 0) > 1 and len(key) > 400:
                name = "s" + hashlib.sha256(key.encode()).hexdigest()[:12]
                if name not in defs:
                    defs[name] = {}
                    defs[name] = {k: share(v) for k, v in node.items()}
                return {"$ref": "#/$defs/" + name}
            return {k: share(v) for k, v in node.items()}
        if isinstance(node, list):
            return [share(v) for v in node]
        return node

    shared = {k: share(v) for k, v in schema.items()}
    shared["$defs"] = defs
    return shared


def kserve(crd_path):
    crd = yaml.safe_load(open(crd_path))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return share_repeats(strip(version["schema"]["openAPIV3Schema"]))


def kubernetes():
    root = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    all_defs = json.load(open(root / f"v{KUBERNETES_VERSION}-local-strict/_definitions.json"))["$defs"]
    prefix = "/api/_definitions.json#/$defs/"
    wanted, todo = {}, list(KINDS)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted[name] = strip(all_defs[name])

        def refs(node):
            if isinstance(node, dict):
                ref = node.get("$ref")
                for start in (prefix, "#/$defs/"):
                    if isinstance(ref, str) and ref.startswith(start):
                        node["$ref"] = "#/$defs/" + ref[len(start):]
                        todo.append(ref[len(start):])
                for v in node.values():
                    refs(v)
            elif isinstance(node, list):
                for v in node:
                    refs(v)

        refs(wanted[name])
    return {"kubernetesVersion": KUBERNETES_VERSION, "$defs": dict(sorted(wanted.items()))}


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(OUT.parent.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vendor-schemas.py PATH/TO/kserve-inferenceservices.crd.yaml")
    write(OUT / "kserve/inferenceservice-v1beta1.schema.json", kserve(sys.argv[1]))
    write(OUT / "kubernetes/v1.31-objects.schema.json", kubernetes())
