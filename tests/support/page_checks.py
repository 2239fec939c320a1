"""Checks every page of a walk shares: axe-core (serious/critical violations), English words on a
German page, and screenshots at a laptop and a phone size.

axe-core comes from ``tests/js/node_modules`` (``make test`` runs ``npm ci`` there). It is
evaluated through the DevTools protocol, which the pages' CSP (no inline scripts) does not
restrict, so the pages are checked exactly as served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.support.browser import eval_with_timeout

AXE_PATH = Path(__file__).parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"

#: Sizes every page is photographed at: a laptop and a small phone.
SIZES = {"desktop": (1280, 800), "phone": (375, 667)}

#: Words that give away an English (or raw technical) text on a German page. Whole words, case
#: sensitive where German shares the spelling in lower case ("die" vs. "Die" is German anyway).
ENGLISH_WORDS = (
    "the", "The", "and", "should", "Input", "must", "needs", "invalid", "Invalid", "required",
    "error", "Error", "failed", "Failed", "Not Found", "not found", "Conversion", "Loading",
    "Please", "Cancel", "Save", "Delete", "Share", "Download", "Recording", "Room", "Start now",
    "Stop", "Sign in", "Sign out", "Join", "Leave", "Waiting", "expired", "value", "field",
    "scheme", "UTC", "after", "closed", "disk", "space", "waiting", "exit", "Conversion failed",
)  # fmt: skip
_ENGLISH = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")(?![\w-])"
)

# Everything a person can read or hear: visible text and the accessible names and hints, except
# inside an element marked as another language (the "English" switch).
_TEXTS_JS = """() => {
  const out = [document.title];
  const foreign = (node) => node.closest && node.closest('[lang]:not([lang="de"])') &&
    node.closest('[lang]:not([lang="de"])') !== document.documentElement;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || foreign(parent) || !node.textContent.trim()) continue;
    const skip = 'script, style, template, [hidden], details:not([open]) > :not(summary)';
    if (parent.closest(skip)) continue;
    if (!parent.getClientRects().length) continue;
    out.push(node.textContent.trim());
  }
  for (const node of document.querySelectorAll('[aria-label], [title], [placeholder], img[alt]')) {
    if (foreign(node)) continue;
    for (const name of ['aria-label', 'title', 'placeholder', 'alt']) {
      if (node.getAttribute(name)) out.push(node.getAttribute(name));
    }
  }
  return out;
}"""


def english_words(texts: list[str]) -> list[str]:
    """``["word: …the text…"]`` for each English word found in ``texts``."""
    found = []
    for text in texts:
        for match in _ENGLISH.finditer(text):
            found.append(f"{match.group(1)!r} in {text[:120]!r}")
    return found


@dataclass
class PageWalk:
    """Collects the findings of every checked page; ``assert_clean`` fails with all of them."""

    artifacts: Path
    axe_source: str = field(init=False)
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not AXE_PATH.is_file():
            pytest.fail(f"{AXE_PATH} is missing: run `make js-test` (npm ci in tests/js)")
        self.axe_source = AXE_PATH.read_text()

    async def check(self, page: Page, name: str, *, axe: bool = True, german: bool = True) -> None:
        """Screenshots at both sizes, then axe and the English-word scan at the desktop size."""
        self.checked.append(name)
        for size, (width, height) in SIZES.items():
            await page.set_viewport_size({"width": width, "height": height})
            await page.screenshot(path=str(self.artifacts / f"{name}-{size}.png"))
        await page.set_viewport_size({"width": 1280, "height": 800})
        if german:
            texts = await eval_with_timeout(page, _TEXTS_JS, 10)
            self.problems += [f"{name}: English {hit}" for hit in english_words(texts)]
        if axe:
            for violation in await self.axe(page):
                self.problems.append(f"{name}: axe {violation}")

    async def axe(self, page: Page) -> list[str]:
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            await page.evaluate(self.axe_source)
        result: dict[str, Any] = await eval_with_timeout(
            page,
            "() => axe.run(document, { resultTypes: ['violations'] })",
            30,
        )
        assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe ran"
        return [
            f"{v['impact']} {v['id']}: {v['help']} — "
            + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:4])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)
