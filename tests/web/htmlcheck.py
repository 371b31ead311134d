"""Checks every rendered HTML page must pass (language, headings, CSP-safe markup, labels)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class Page(HTMLParser):
    """What the tests check in a page: headings, scripts, styles, forms, links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.h1: list[str] = []
        self.headings: list[int] = []
        self.scripts: list[dict[str, str | None]] = []
        self.script_bodies: list[str] = []
        self.style_attrs: list[str] = []
        self.style_tags = 0
        self.inline_handlers: list[str] = []
        self.inputs: list[dict[str, str | None]] = []
        self.labels_for: set[str] = set()
        self.links: list[str] = []
        self.viewport = False
        self._in: list[str] = []
        self._text: dict[str, list[str]] = {}
        self.text_parts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        if tag == "script":
            self.scripts.append(a)
        if tag == "style":
            self.style_tags += 1
        if "style" in a:
            self.style_attrs.append(tag)
        self.inline_handlers += [k for k in a if k.startswith("on")]
        if tag in ("input", "select", "textarea"):
            self.inputs.append({"tag": tag, **a})
        if tag == "label" and a.get("for"):
            self.labels_for.add(a["for"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = True
        self._in.append(tag)
        self._text[tag] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self.h1.append("".join(self._text.get("h1", [])).strip())
        if tag == "script":
            self.script_bodies.append("".join(self._text.get("script", [])))
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        for tag in self._text:
            self._text[tag].append(data)
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())


def check_page(response: Any, lang: str = "ja") -> Page:
    """Assertions every HTML page must pass: language, one h1, no inline code, labels."""
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert page.html_lang == lang
    assert len(page.h1) == 1, page.h1
    assert page.headings[0] == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"
    assert page.viewport
    assert not page.style_attrs, f"inline style= on {page.style_attrs}"
    assert page.style_tags == 0
    assert not page.inline_handlers
    assert all(s.get("src") for s in page.scripts), "inline <script>"
    assert not any(body.strip() for body in page.script_bodies)
    for field in page.inputs:
        if field.get("type") in ("hidden", "submit"):
            continue
        assert field.get("id") in page.labels_for, f"unlabelled {field}"
    assert "#main" in page.links  # skip link
    return page
