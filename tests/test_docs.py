"""The docs hold together: every relative link points at a file that exists (and at a heading that
exists, for `#anchor` links), and every pattern of the catalogue with a chart has its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlpatterns.catalogue import PATTERNS
from mlpatterns.paths import REPOSITORY

PAGES = sorted(
    [REPOSITORY / "README.md", *REPOSITORY.glob("docs/*.md"), *REPOSITORY.glob("*/README.md"),
     *REPOSITORY.glob("charts/*/README.md")]
)  # fmt: skip
_LINK = re.compile(r"\]\((?!https?://|mailto:)(?P<target>[^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_relative_links_resolve(page: Path) -> None:
    for match in _LINK.finditer(page.read_text()):
        path, _, anchor = match["target"].partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {match['target']} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{page.name}: no heading '#{anchor}' in {target.name}"


def test_every_pattern_with_a_chart_has_a_docs_page() -> None:
    assert [p.name for p in PATTERNS if p.has_chart and p.docs is None] == []


def test_the_anti_patterns_page_covers_the_catalogues_six() -> None:
    headings = _anchors(REPOSITORY / "docs" / "anti-patterns.md")
    six = ["online-bigsize", "all-in-one", "training-code-in-serving", "too-many-pipes", "offline-only", "no-logging"]
    assert set(six) <= headings
