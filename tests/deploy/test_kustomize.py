"""testkit.kustomize renders what Kustomize would, for the fields it supports, and
refuses the rest (so a new overlay feature cannot be silently mis-rendered)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from testkit import deploy_facts as facts
from testkit.kustomize import KustomizeError, merge, render, split_image

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"tier": "api"}},
    "spec": {
        "replicas": 1,
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "acme/web",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "args": ["--one", "--two"],
                    },
                    {"name": "sidecar", "image": "acme/proxy:1.0"},
                ]
            },
        },
    },
}


def write(folder: Path, name: str, *docs: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump_all(docs))


def test_strategic_merge_merges_maps_and_named_lists_and_replaces_other_lists() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "env": [{"name": "B", "value": "3"}], "args": ["--x"]},
                        {"name": "new", "image": "acme/new"},
                    ]
                }
            }
        }
    }
    merged = merge(DEPLOYMENT, patch)
    app, sidecar, new = merged["spec"]["template"]["spec"]["containers"]
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert app["args"] == ["--x"]
    assert app["image"] == "acme/web"
    assert sidecar == {"name": "sidecar", "image": "acme/proxy:1.0"}
    assert new["name"] == "new"
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == "2"


def test_an_images_tag_follows_its_last_slash() -> None:
    assert split_image("registry:5000/acme/web:7") == ("registry:5000/acme/web", "7")
    assert split_image("registry:5000/acme/web") == ("registry:5000/acme/web", "")
    assert split_image("acme/web") == ("acme/web", "")


def test_overlay_applies_namespace_labels_images_replicas_and_targeted_patches(
    tmp_path: Path,
) -> None:
    other = {**DEPLOYMENT, "metadata": {"name": "batch", "labels": {"tier": "jobs"}}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    write(tmp_path / "base", "objects.yaml", DEPLOYMENT, other)
    write(tmp_path / "base", "kustomization.yaml", {"resources": ["objects.yaml"]})
    write(
        tmp_path / "overlay",
        "patch.yaml",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "placeholder"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "args": ["--p"]}]}}},
        },
    )
    write(tmp_path / "overlay", "ns.yaml", namespace)
    write(
        tmp_path / "overlay",
        "kustomization.yaml",
        {
            "namespace": "shop",
            "labels": [{"pairs": {"part-of": "shop"}}],
            "resources": ["ns.yaml", "../base"],
            "images": [
                {"name": "acme/web", "newTag": "7"},
                {"name": "acme/proxy", "newName": "x/p"},
            ],
            "replicas": [{"name": "batch", "count": 4}],
            "patches": [
                {
                    "path": "patch.yaml",
                    "target": {"group": "apps", "kind": "Deployment", "labelSelector": "tier=api"},
                }
            ],
        },
    )
    ns, web, batch = render(tmp_path / "overlay")
    assert ns["metadata"] == {"name": "shop", "labels": {"part-of": "shop"}}
    assert web["metadata"] == {
        "name": "web",
        "namespace": "shop",
        "labels": {"tier": "api", "part-of": "shop"},
    }
    assert web["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    app, sidecar = web["spec"]["template"]["spec"]["containers"]
    assert (app["image"], app["args"]) == ("acme/web:7", ["--p"])
    assert sidecar["image"] == "x/p:1.0"
    assert web["spec"]["replicas"] == 1 and batch["spec"]["replicas"] == 4
    assert batch["spec"]["template"]["spec"]["containers"][0]["args"] == ["--one", "--two"]


@pytest.mark.parametrize(
    "kustomization",
    [
        {"resources": ["objects.yaml"], "configMapGenerator": [{"name": "x"}]},
        {"resources": ["objects.yaml"], "patches": [{"patch": "inline"}]},
        {
            "resources": ["objects.yaml"],
            "labels": [{"pairs": {"a": "b"}, "includeSelectors": True}],
        },
        {"resources": ["objects.yaml"], "replicas": [{"name": "missing", "count": 2}]},
        {"resources": ["objects.yaml"], "images": [{"name": "acme/web", "digest": "sha256:0"}]},
    ],
)
def test_what_it_does_not_render_is_refused(tmp_path: Path, kustomization: dict) -> None:
    write(tmp_path, "objects.yaml", DEPLOYMENT)
    write(tmp_path, "kustomization.yaml", kustomization)
    with pytest.raises(KustomizeError):
        render(tmp_path)


def test_a_patch_that_matches_nothing_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "objects.yaml", DEPLOYMENT)
    write(tmp_path, "patch.yaml", {"kind": "Deployment", "metadata": {"name": "nope"}})
    write(
        tmp_path,
        "kustomization.yaml",
        {"resources": ["objects.yaml"], "patches": [{"path": "patch.yaml"}]},
    )
    with pytest.raises(KustomizeError, match="matches nothing"):
        render(tmp_path)


# Kustomize itself comes with kubectl, which Debian and PyPI do not ship; where a
# kubectl is installed, the overlays must render to the very same objects.
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl to compare with")
@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_the_overlays_render_as_kubectl_kustomize_renders_them(overlay: str) -> None:
    folder = facts.K8S / "overlays" / overlay
    out = subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout

    def keyed(objects: list[dict]) -> dict[tuple[str, str], dict]:
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    expected = keyed([o for o in yaml.safe_load_all(out) if o])
    assert keyed(render(folder)) == expected
