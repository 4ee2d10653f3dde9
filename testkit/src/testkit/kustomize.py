"""Render a Kustomize overlay in Python, for the offline manifest tests.

No kustomize or kubectl binary comes from Debian's packages or PyPI, so this renders
the subset of Kustomize that deploy/k8s uses, and refuses any other field rather
than render it wrongly:

- `resources`: YAML files, or folders holding a kustomization.yaml;
- `namespace`: set on every namespaced object;
- `labels` (`pairs`, metadata only: selectors and templates stay as written);
- `images` (`newName`, `newTag`) on every container of a pod template;
- `replicas` (`name`, `count`);
- `patches`: strategic-merge patch files, applied to their own kind and name, or
  to every object a `target` (group, kind, name, labelSelector `k=v[,k=v]`) selects.
  Maps merge key by key; lists of maps that all carry `name` merge by name (how
  containers, env and volumes merge); any other list is replaced.

python -m testkit.kustomize deploy/k8s/overlays/local   prints the rendered stream.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
}
# Kinds without a namespace among those deploy/k8s uses.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
SCALABLE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


class KustomizeError(ValueError):
    """A kustomization uses something this renderer does not do."""


def render(path: Path) -> list[Obj]:
    """The objects `kustomize build path` would print (in file order)."""
    folder = Path(path)
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text()) or {}
    unknown = set(spec) - KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{folder}: unsupported kustomization fields {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        target = folder / entry
        objects.extend(render(target) if target.is_dir() else load_documents(target))
    for patch in spec.get("patches", []):
        apply_patch(objects, folder, patch)
    for rule in spec.get("images", []):
        set_image(objects, rule)
    for rule in spec.get("replicas", []):
        set_replicas(objects, rule)
    for group in spec.get("labels", []):
        if set(group) - {"pairs"}:
            raise KustomizeError(f"{folder}: labels support `pairs` only")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(group["pairs"])
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    return objects


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def apply_patch(objects: list[Obj], folder: Path, entry: Obj) -> None:
    if set(entry) - {"path", "target"}:
        raise KustomizeError(f"{folder}: patches support `path` and `target` only")
    (patch,) = load_documents(folder / entry["path"])
    target = entry.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
    matched = [obj for obj in objects if selects(target, obj)]
    if not matched:
        raise KustomizeError(f"{folder}: patch {entry['path']} matches nothing")
    for obj in matched:
        name = obj["metadata"]["name"]
        merged = merge(obj, {k: v for k, v in patch.items() if k != "metadata"})
        merged["metadata"] = merge(obj["metadata"], patch.get("metadata", {}))
        merged["metadata"]["name"] = name  # a targeted patch's own name is a placeholder
        obj.clear()
        obj.update(merged)


def selects(target: Obj, obj: Obj) -> bool:
    if set(target) - {"group", "kind", "name", "labelSelector"}:
        raise KustomizeError(f"unsupported patch target {target}")
    api_version = obj.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    labels = obj.get("metadata", {}).get("labels", {})
    wanted = dict(pair.split("=", 1) for pair in target.get("labelSelector", "").split(",") if pair)
    return (
        target.get("group", group) == group
        and target.get("kind", obj["kind"]) == obj["kind"]
        and target.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]
        and all(labels.get(k) == v for k, v in wanted.items())
    )


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge, restricted to what deploy/k8s needs (see the module doc)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        items = copy.deepcopy(base)
        index = {item["name"]: i for i, item in enumerate(items)}
        for item in patch:
            if item["name"] in index:
                items[index[item["name"]]] = merge(items[index[item["name"]]], item)
            else:
                items.append(copy.deepcopy(item))
        return items
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def containers(obj: Obj) -> Iterable[Obj]:
    """Every container (and init container) of a workload's pod template."""
    if obj["kind"] not in POD_TEMPLATE_KINDS:
        return []
    pod = obj["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def set_image(objects: list[Obj], rule: Obj) -> None:
    if set(rule) - {"name", "newName", "newTag"}:
        raise KustomizeError(f"images support name/newName/newTag only: {rule}")
    for obj in objects:
        for container in containers(obj):
            name, tag = split_image(container["image"])
            if name == rule["name"]:
                tag = rule.get("newTag", tag)
                image = rule.get("newName", name)
                container["image"] = f"{image}:{tag}" if tag else image


def split_image(image: str) -> tuple[str, str]:
    """("registry:5000/app", "1.0") from "registry:5000/app:1.0": a tag follows the last "/"."""
    path, slash, last = image.rpartition("/")
    name, _, tag = last.partition(":")
    return f"{path}{slash}{name}", tag


def set_replicas(objects: list[Obj], rule: Obj) -> None:
    matched = [
        o for o in objects if o["metadata"]["name"] == rule["name"] and o["kind"] in SCALABLE_KINDS
    ]
    if not matched:
        raise KustomizeError(f"replicas: nothing named {rule['name']}")
    for obj in matched:
        obj["spec"]["replicas"] = rule["count"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m testkit.kustomize <folder with kustomization.yaml>")
    yaml.safe_dump_all(render(Path(args[0])), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
