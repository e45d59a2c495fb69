"""Build the stack's images with docker and load them into the kind node.

Which images: every selected service's ``image`` that has a ``build``, plus the
operator (``operator/Dockerfile``) and the fakes + dashboard image
(``fakes/Dockerfile``), each built once however many services share it.

Content-pinned tags: after a build, each image is also tagged
``<repository>:dev-<first 12 hex of its image ID>`` and that tag is what the
cluster runs.  A rebuild that changed nothing keeps the tag (no rollout); a
change gives a new tag, so the operator rolls exactly the Deployments whose
image changed.  A fixed ``:dev`` tag would leave old code running.

``kind load docker-image`` vs a local registry: NOT measured here - these
machines have no usable docker daemon, no kind and no node image.
What is known: ``kind load`` streams ``docker save`` of the whole image into
the node's containerd (cost ~ image size, ~seconds per few hundred MB) but
skips an image already present with the same ID; a registry (ctlptl/Tilt
style, ``localhost:5001``) pushes only changed layers, which wins for large
images with small edits, at the cost of a registry container, a containerd
mirror patch in the kind config and another listening host port.  We pick
``kind load`` for the CLI: zero extra setup, nothing else to keep running, and
the ID check makes re-runs with unchanged images nearly free.  Live edits go
through Tilt's live_update (file sync, no image at all), which is where a
registry's layer reuse would have mattered most.  Re-measure with
``time kind load docker-image`` vs ``time docker push localhost:5001/...`` on
a machine with kind and switch if a registry wins by a wide margin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.core.resolver import Plan
from hippodrome_k8s.k8s.runner import Runner

BUILD_TIMEOUT = 1800.0
OPERATOR_REPOSITORY = "hippodrome/operator"
HIPPODROME_REPOSITORY = "hippodrome/fakes"
DEV_TAG = "dev"


@dataclass(frozen=True)
class ImageSpec:
    repository: str
    tag: str
    context: str | None  # None: not built here (pulled by the node)
    dockerfile: str | None
    target: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


PLATFORM_IMAGES = (
    ImageSpec(OPERATOR_REPOSITORY, DEV_TAG, ".", "operator/Dockerfile"),
    ImageSpec(HIPPODROME_REPOSITORY, DEV_TAG, ".", "fakes/Dockerfile"),
)


def images_for(plan: Plan) -> list[ImageSpec]:
    """Unique images to build: the platform's, then the selected services', in layer order."""
    found: dict[str, ImageSpec] = {i.ref: i for i in PLATFORM_IMAGES}
    for service in plan.services:
        image = service.spec.image
        if image is None or image.build is None:
            continue
        spec = ImageSpec(image.repository, image.tag, image.build.context, image.build.dockerfile, image.build.target)
        found.setdefault(spec.ref, spec)
    return list(found.values())


def pinned_tag(image_id: str) -> str:
    digest = image_id.split(":", 1)[-1]
    return f"{DEV_TAG}-{digest[:12]}"


@dataclass
class ImageBuilder:
    runner: Runner
    project_root: Path

    def build(self, images: Iterable[ImageSpec]) -> None:
        for image in images:
            if image.context is None or image.dockerfile is None:
                continue
            argv = ["docker", "build", "-t", image.ref, "-f", str(self.project_root / image.dockerfile)]
            if image.target:
                argv += ["--target", image.target]
            argv.append(str(self.project_root / image.context))
            self.runner.run(argv, timeout=BUILD_TIMEOUT, stream=True).check()

    def pin(self, images: Iterable[ImageSpec]) -> dict[str, str]:
        """Tag each local image by content; returns ``{"repo:dev": "repo:dev-<id12>"}``."""
        pinned: dict[str, str] = {}
        for image in images:
            result = self.runner.run(["docker", "image", "inspect", "-f", "{{.Id}}", image.ref], timeout=30)
            if not result.ok or not result.stdout.strip():
                raise K8sError(f"image {image.ref} is not in the local docker (drop --no-build to build it)")
            ref = f"{image.repository}:{pinned_tag(result.stdout.strip())}"
            self.runner.run(["docker", "tag", image.ref, ref], timeout=30).check()
            pinned[image.ref] = ref
        return pinned
