"""The repository describes itself: nothing points outside it, and every documentation link resolves.

Users have the repository only. The external protocols are described in docs/protocols/, the
environment variables in docs/configuration.md and the design documents the project grew from in
docs/background.md; a pointer to material outside the repository (the shared working folder, its
contracts or its seed documents) is a broken pointer for them. Every relative link of README.md and
docs/**/*.md must name a file or folder inside the repository, and a `#fragment` a heading of that
file (GitHub's anchors).
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not trip over itself.
OUTSIDE = ("../" + "shared", "shared/" + "contracts", "seeds/" + "0", "/work/" + "shared")
SCANNED_SUFFIXES = (".md", ".py", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".sh", ".txt")
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".hub", "test-artifacts"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def tracked_files() -> list[Path]:
    """The files git tracks (what a user gets), or every file below the repository without git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        return [REPO / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [path for path in REPO.rglob("*")
                if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(REPO).parts)]


def markdown_documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, _INLINE_CODE.sub("", line)))
    return lines


def links_in(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline, image and reference-definition link outside code."""
    found = []
    for number, line in _prose_lines(text):
        found += [(number, target) for target in _INLINE_LINK.findall(line)]
        reference = _REFERENCE_LINK.match(line)
        if reference:
            found.append((number, reference.group(1)))
    return found


def links(document: Path) -> list[tuple[int, str]]:
    return links_in(document.read_text(encoding="utf-8"))


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(document: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    fenced = False
    for line in document.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            anchor = github_anchor(heading.group(2))
            seen[anchor] = seen.get(anchor, 0) + 1
    out = set()
    for anchor, count in seen.items():
        out.add(anchor)
        out.update(f"{anchor}-{n}" for n in range(1, count))
    return frozenset(out)


def test_nothing_points_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if path.suffix not in SCANNED_SUFFIXES or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            for needle in OUTSIDE:
                if needle in line:
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {needle!r} in {line.strip()[:160]!r}")
    assert not offenders, ("pointers to material users do not have; point to docs/protocols/, "
                           "docs/configuration.md or docs/background.md instead:\n" + "\n".join(offenders))


@pytest.mark.parametrize("document", markdown_documents(), ids=lambda path: str(path.relative_to(REPO)))
def test_relative_links_resolve(document: Path):
    broken = []
    for number, target in links(document):
        if _EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (document.parent / unquote(path_part)).resolve() if path_part else document
        where = f"{document.relative_to(REPO)}:{number}: {target}"
        if resolved != REPO and REPO not in resolved.parents:
            broken.append(f"{where} leaves the repository")
        elif not resolved.exists():
            broken.append(f"{where} does not exist")
        elif fragment and resolved.suffix == ".md" and unquote(fragment).lower() not in anchors(resolved):
            broken.append(f"{where}: no heading with anchor #{fragment} in {resolved.relative_to(REPO)}")
    assert not broken, "\n".join(broken)


def test_the_checks_see_what_they_should():
    """The link and anchor readers find what a reader would click, so an empty result above means something."""
    assert github_anchor("Stock push: `GET /webhooks/nextengine/stock` on our edge") == \
        "stock-push-get-webhooksnextenginestock-on-our-edge"
    assert github_anchor("GlobalHub sync design (seed 000)") == "globalhub-sync-design-seed-000"
    sample = "[a](x.md) `[not](code.md)` ![img](i.png \"t\") [c][r]\n```\n[fenced](f.md)\n```\n[r]: ref.md\n"
    assert [target for _, target in links_in(sample)] == ["x.md", "i.png", "ref.md"]
    assert "docs/configuration.md" in [target for _, target in links(REPO / "README.md")]
