"""What an image built from one of our Dockerfiles holds, read from the Dockerfile (no Docker engine here).

Enough of the Dockerfile language for our files: stages (``FROM x AS name``, a stage may build on
another), ``WORKDIR``, ``COPY src dest`` (relative to the build context and the working directory),
``USER``, ``ENV`` and ``RUN ... chown -R uid[:gid] path``.  From that: which files of the project land
where in the image, which directories the container user owns, its ``PYTHONPATH`` and working directory.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass
class Stage:
    name: str
    base: str
    parent: Stage | None = None
    workdir: str = "/"
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[str, str]] = field(default_factory=list)  # (context path, image path)
    owned: list[tuple[str, str]] = field(default_factory=list)  # (image path, uid) from `chown -R`

    def chain(self) -> list[Stage]:
        return ([*self.parent.chain()] if self.parent else []) + [self]

    def effective_user(self) -> str | None:
        return next((s.user for s in reversed(self.chain()) if s.user is not None), None)

    def effective_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for stage in self.chain():
            env.update(stage.env)
        return env

    def effective_workdir(self) -> str:
        return self.workdir

    def all_copies(self) -> list[tuple[str, str]]:
        return [c for s in self.chain() for c in s.copies]

    def all_owned(self) -> list[tuple[str, str]]:
        return [o for s in self.chain() for o in s.owned]


@dataclass
class Dockerfile:
    path: Path
    stages: dict[str, Stage]
    last: Stage

    def stage(self, target: str | None) -> Stage:
        return self.stages[target] if target else self.last

    def source_of(self, stage: Stage, image_path: str, context: Path) -> Path | None:
        """The project file or directory that ``image_path`` comes from (None: not copied in)."""
        target = PurePosixPath(image_path)
        for src, dest in reversed(stage.all_copies()):
            dest_path = PurePosixPath(dest)
            if target == dest_path or dest_path in target.parents:
                rest = target.relative_to(dest_path)
                source = context / src
                if source.is_dir():
                    candidate = source / rest
                elif str(rest) == ".":
                    candidate = source
                else:
                    candidate = source.parent / rest if dest.endswith("/") else None
                if candidate is not None and candidate.exists():
                    return candidate
        return None

    def exists(self, stage: Stage, image_path: str, context: Path) -> bool:
        path = PurePosixPath(image_path)
        dirs = {PurePosixPath(s.workdir) for s in stage.chain()} | {PurePosixPath(d) for _, d in stage.all_copies()}
        return self.source_of(stage, image_path, context) is not None or path in dirs

    def owner(self, stage: Stage, image_path: str) -> str | None:
        path = PurePosixPath(image_path)
        for where, uid in reversed(stage.all_owned()):
            if path == PurePosixPath(where) or PurePosixPath(where) in path.parents:
                return uid
        return None


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    return lines


def parse(path: Path) -> Dockerfile:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in _logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(stages)}"
            parent = stages.get(base)
            current = Stage(name, base, parent, workdir=parent.workdir if parent else "/")
            stages[name] = current
            continue
        assert current is not None, f"{path}: {instruction} before FROM"
        if instruction == "WORKDIR":
            current.workdir = str(PurePosixPath(current.workdir) / rest.strip())
        elif instruction == "USER":
            current.user = rest.strip()
        elif instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                current.env[key] = value
        elif instruction == "COPY":
            words = [w for w in rest.split() if not w.startswith("--")]
            *sources, dest = words
            dest_abs = dest if dest.startswith("/") else str(PurePosixPath(current.workdir) / dest)
            for src in sources:
                if dest.endswith("/") or len(sources) > 1:
                    current.copies.append((src, dest_abs.rstrip("/") + "/" + PurePosixPath(src).name))
                else:
                    current.copies.append((src, dest_abs))
        elif instruction == "RUN":
            for match in re.finditer(r"chown\s+-R\s+(\d+)(?::\d+)?\s+(\S+)", rest):
                current.owned.append((match.group(2), match.group(1)))
    assert current is not None, f"{path}: no FROM"
    return Dockerfile(path, stages, current)
