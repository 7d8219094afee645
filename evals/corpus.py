"""The judge's own reading of the eval corpus, independent of the ingest parsers.

The gold set is checked against this reading (`evals/check_gold.py`), and the runner takes
the full roles from it, so a parser bug can neither make a wrong gold entry look right nor
change what the judge expects. It reads the formats the eval corpus holds, no more: WordPress
post JSON and listing text files (`data/blueprints/`), and the saved HTML pages, WordPress
post, list of WordPress posts, converter's Markdown export and Notion-style Markdown page of
`evals/fixtures/`.

Every text is kept in each way it may be read: HTML inline tags joined with and without a
space (a phrasing must survive both); Markdown and plain text are read one way.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, Tag

from evals.matching import (
    heading_key,
    heading_name,
    name_key,
    normalize,
    role_key,
    without_symbols,
)

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
_TITLE_SUFFIX = re.compile(r"\s*[:\u2013\u2014-]\s*Role Blueprint\b.*$", re.IGNORECASE)
_LISTING_END = "Read more »"
_SEPARATORS = ("", " ")
# Where the citable units of prose end: a sentence, or a line of a dash list inside a paragraph.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_DASH_LINE = re.compile(r"^\s*[\u2013\u2014\u2022-]\s+")
# A saved page's chrome inside its <article>: not blueprint content. WordPress plugins put
# some of it inside a post's content too (a table of contents, share buttons, inline ads).
_CHROME = ("header", "footer", "nav", "aside", "figure", "form", "script", "style", "button")
# (`code-block` wraps what the Ad Inserter plugin inserts: ads, job-board boxes.)
_CHROME_CLASSES = re.compile(
    r"share|toc|promo|newsletter|helpful|author|related|code-block", re.IGNORECASE
)
# Markdown export structure and the noise converters leave inside the body.
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_MD_HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*#*$")
_MD_TITLE_UNDERLINE = re.compile(r"^=+\s*$")
_MD_BODY_END = re.compile(r"^(?:\* \* \*|-{3,}|\*{3,})\s*$")
_MD_LIST_ITEM = re.compile(r"^(?:[-*+]|\d+\.)\s+")
_MD_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")
_MD_NOISE = re.compile(r"^(?:advertisement|\[!\[)|cookies?\b", re.IGNORECASE)
_MD_CONVERTER_BODY = re.compile(r"^Markdown Content:\s*$", re.MULTILINE)
# A page exported as Markdown (Notion, Confluence): setext headings, toggles, bold titles.
_MD_SETEXT_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
_MD_ATX = re.compile(r"^(#{1,3})\s+(.+?)\s*#*$")
_MD_RULE = re.compile(r"^(?:\*\s*){3,}$|^(?:-\s*){3,}$|^(?:_\s*){3,}$")
_MD_BOLD_LINE = re.compile(r"^\*\*([^*]+?)\*\*\s*$")
_MD_SUMMARY = re.compile(r"^\s*<summary>(.*?)</summary>\s*$")
_MD_DETAILS = re.compile(r"^\s*</?details>\s*$")
_HTML_TAG = re.compile(r"<[^>]+>")

# One text in every way it may be read, each normalised.
Variants = tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """One citable item (a bullet with its sub-bullets, a table row, a paragraph).

    `units` is how many citations it may take: one for a bullet or a row, one per sentence
    (or per dash line) for prose.
    """

    readings: Variants
    units: int = 1


@dataclass
class Part:
    """A section's items before its first subsection (`name` empty), or one subsection's."""

    name: str
    items: list[Item] = field(default_factory=list)


@dataclass
class ReadSection:
    """One section of a full blueprint, as printed."""

    heading: str
    parts: list[Part] = field(default_factory=list)

    @property
    def key(self) -> str | None:
        """The template key of its heading, or None for a heading of its own."""
        return heading_key(self.heading)

    @property
    def name(self) -> str:
        """Its heading as headings are compared (`heading_name`)."""
        return heading_name(self.heading)

    def subsection_names(self) -> dict[str, str]:
        """Its subsections: compared name (`name_key`) to the name as printed."""
        return {name_key(p.name): p.name for p in self.parts if p.name}

    def items(self, subsections: Collection[str] = ()) -> list[Item]:
        """Its items, or only those of the given subsections (as `name_key` gives them)."""
        return [
            item
            for part in self.parts
            if not subsections or name_key(part.name) in subsections
            for item in part.items
        ]

    def text(self) -> Variants:
        """All of its text (subsection names included), in each reading."""
        items = self.items()
        width = len(items[0].readings) if items else 1
        names = [Item((normalize(p.name),) * width) for p in self.parts if p.name]
        return _joined([*names, *items])


@dataclass
class RoleText:
    """One role as the corpus holds it: a full blueprint's sections and/or a listing summary."""

    name: str
    sections: list[ReadSection] = field(default_factory=list)
    summary: list[Item] = field(default_factory=list)
    whole: list[Variants] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """Whether the corpus holds the role's full blueprint (not only a summary)."""
        return bool(self.sections)

    @property
    def heldout(self) -> bool:
        """Whether the role comes only from the held-out fixtures (evals/fixtures/)."""
        return all(FIXTURES_DIR in source.parents for source in self.sources)

    def items(self) -> list[Item]:
        """Every item of the role: its sections' and its summary's."""
        return [item for section in self.sections for item in section.items()] + self.summary


@dataclass
class CorpusText:
    """Every role of the corpus, by `role_key`."""

    roles: dict[str, RoleText] = field(default_factory=dict)

    @property
    def full_roles(self) -> set[str]:
        """Keys of the roles with a full (sectioned) blueprint."""
        return {key for key, text in self.roles.items() if text.full}

    @property
    def heldout_roles(self) -> set[str]:
        """Keys of the roles that only the held-out fixtures hold."""
        return {key for key, text in self.roles.items() if text.heldout}

    def role(self, name: str, source: Path) -> RoleText:
        """The role of that name, added on first sight; `source` is recorded either way."""
        text = self.roles.setdefault(role_key(name), RoleText(name))
        text.sources.append(source)
        return text


def read_corpus(sources: Iterable[Path]) -> CorpusText:
    """Read the corpus sources (files, or folders of them) the eval configuration lists.

    Raises:
        ValueError: A source does not exist, or a file is of a format this reader does not know.
    """
    corpus = CorpusText()
    for path in _files(sources):
        if path.suffix == ".json":
            _read_wordpress(path, corpus)
        elif path.suffix == ".txt":
            _read_listing(path, corpus)
        elif path.suffix == ".html":
            _read_saved_page(path, corpus)
        elif path.suffix == ".md" and _MD_CONVERTER_BODY.search(path.read_text(encoding="utf-8")):
            _read_markdown_export(path, corpus)
        elif path.suffix == ".md":
            _read_markdown_page(path, corpus)
        else:
            msg = f"{path}: the gold checker reads .json, .txt, .html and .md corpus files only"
            raise ValueError(msg)
    return corpus


def _files(sources: Iterable[Path]) -> Iterator[Path]:
    for source in sources:
        if source.is_dir():
            yield from sorted(p.resolve() for p in source.iterdir() if p.is_file())
        elif source.is_file():
            yield source.resolve()
        else:
            msg = f"{source}: no such corpus file or folder; see `corpus` in evals/config.toml"
            raise ValueError(msg)


def _role_name(title: str) -> str:
    return _TITLE_SUFFIX.sub("", " ".join(title.split())).strip()


def _joined(items: Sequence[Item]) -> Variants:
    if not items:
        return ("",)
    return tuple(
        "\n".join(item.readings[i] for item in items) for i in range(len(items[0].readings))
    )


def _prose_units(text: str) -> int:
    """Sentences of prose, and each dash line of a list written inside a paragraph."""
    lines = [line for line in text.splitlines() if line.strip()]
    dashed = sum(bool(_DASH_LINE.match(line)) for line in lines)
    prose = " ".join(line for line in lines if not _DASH_LINE.match(line))
    sentences = len(_SENTENCE_END.split(prose.strip())) if prose.strip() else 0
    return max(1, dashed + sentences)


# --- HTML (WordPress post content and saved pages) ---------------------------------------


def _readings(element: Tag) -> Variants:
    return tuple(normalize(element.get_text(sep)) for sep in _SEPARATORS)


def _html_sections(root: Tag) -> list[ReadSection]:
    """Sections at `h2`, subsections at `h3`; items are list items, table rows, paragraphs.

    A definition list's term with its descriptions (a KPI card: name, target, cadence) is one
    item too, its parts apart as a table row's cells are.
    """
    sections: list[ReadSection] = []
    for element in root.find_all(["h2", "h3", "p", "li", "tr", "dt"]):
        if element.name == "h2":
            sections.append(ReadSection(element.get_text(" ", strip=True), [Part("")]))
            continue
        if not sections:
            continue
        section = sections[-1]
        if element.name == "h3":
            section.parts.append(Part(element.get_text(" ", strip=True)))
        elif element.name == "li" and not element.find_parent("li"):
            # A nested list belongs to its top-level bullet: one item, sub-bullets included.
            section.parts[-1].items.append(Item(_readings(element)))
        elif element.name == "tr" and element.find("td"):
            # Cells apart, as a cited row prints them (`Column: value | Column: value`).
            cells = element.find_all(["td", "th"])
            readings = tuple(
                " | ".join(normalize(cell.get_text(sep)) for cell in cells) for sep in _SEPARATORS
            )
            section.parts[-1].items.append(Item(readings))
        elif element.name == "dt":
            parts = [element, *_descriptions(element)]
            readings = tuple(
                " | ".join(normalize(part.get_text(sep)) for part in parts) for sep in _SEPARATORS
            )
            section.parts[-1].items.append(Item(readings))
        elif element.name == "p" and not element.find_parent(["li", "td", "th", "dt", "dd"]):
            text = element.get_text(" ")
            if text.strip():
                section.parts[-1].items.append(Item(_readings(element), _prose_units(text)))
    return sections


def _descriptions(term: Tag) -> list[Tag]:
    """The `<dd>`s after a `<dt>`, up to the next term."""
    found: list[Tag] = []
    for sibling in term.find_next_siblings(["dt", "dd"]):
        if sibling.name == "dt":
            break
        found.append(sibling)
    return found


def _read_wordpress(path: Path, corpus: CorpusText) -> None:
    """A post, or the blueprint posts of a list of posts (`/wp-json/wp/v2/posts`).

    In a list, a post is a blueprint when its title says so (`… – Role Blueprint…`); the
    others (company news) are no role's.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        _read_post(data, path, corpus)
        return
    for post in data:
        if _TITLE_SUFFIX.search(html.unescape(post["title"]["rendered"])):
            _read_post(post, path, corpus)


def _read_post(post: dict[str, Any], path: Path, corpus: CorpusText) -> None:
    """A post's content, without what plugins add to it; its title with entities decoded."""
    soup = BeautifulSoup(post["content"]["rendered"], "html.parser")
    # By class only: a post's tables are in <figure>s, which a saved page's chrome rules drop.
    for chrome in soup.find_all(class_=_CHROME_CLASSES):
        chrome.decompose()
    text = corpus.role(_role_name(html.unescape(post["title"]["rendered"])), path)
    text.whole.append(tuple(normalize(soup.get_text(sep)) for sep in _SEPARATORS))
    text.sections.extend(_html_sections(soup))


def _read_saved_page(path: Path, corpus: CorpusText) -> None:
    """A saved blueprint page: its `<article>` without the chrome inside it."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article")
    title = soup.find("h1")
    if not isinstance(article, Tag) or not isinstance(title, Tag):
        msg = f"{path}: a saved page needs an <article> and an <h1>"
        raise ValueError(msg)
    role = _role_name(title.get_text(" ", strip=True))
    for chrome in article.find_all(_CHROME):
        chrome.decompose()
    for chrome in article.find_all(class_=_CHROME_CLASSES):
        chrome.decompose()
    text = corpus.role(role, path)
    text.whole.append(tuple(normalize(article.get_text(sep)) for sep in _SEPARATORS))
    text.sections.extend(_html_sections(article))


# --- Plain text and Markdown ------------------------------------------------------------


def _read_listing(path: Path, corpus: CorpusText) -> None:
    for block in path.read_text(encoding="utf-8").split(_LISTING_END):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if lines:
            text = corpus.role(_role_name(lines[0]), path)
            text.whole.append((normalize(block),))
            text.summary.extend(Item((normalize(line),), _prose_units(line)) for line in lines[1:])


def _read_markdown_export(path: Path, corpus: CorpusText) -> None:
    """A converter's export of a page: the title above `===`, the body from the first `##`.

    The body ends at a horizontal rule or a setext (`---`-underlined) heading, where the
    export's share buttons, related posts and comments begin; ads, image links and cookie
    notices inside it are skipped.
    """
    lines = _FRONT_MATTER.sub("", path.read_text(encoding="utf-8")).splitlines()
    title = next(
        (lines[i - 1] for i, line in enumerate(lines) if i and _MD_TITLE_UNDERLINE.match(line)),
        None,
    )
    if title is None:
        msg = f"{path}: a Markdown export needs its title underlined with ==="
        raise ValueError(msg)
    text = corpus.role(_role_name(title), path)
    sections: list[ReadSection] = []
    block: list[str] = []

    def flush() -> None:
        if block and sections:
            sections[-1].parts[-1].items.extend(_markdown_items(block))
        block.clear()

    for line in lines:
        heading = _MD_HEADING.match(line)
        if heading and heading.group(1) == "##":
            flush()
            sections.append(ReadSection(heading.group(2), [Part("")]))
        elif heading and sections:
            flush()
            sections[-1].parts.append(Part(heading.group(2)))
        elif sections and _MD_BODY_END.match(line):
            if block and block[-1].strip():  # the text above a `---` is a setext heading
                block.pop()
            break
        elif sections and not _MD_NOISE.search(line):
            block.append(line)
    flush()
    text.sections.extend(sections)
    text.whole.append(_joined([i for s in sections for i in s.items()]))


def _markdown_items(lines: list[str]) -> list[Item]:
    """List items (with their indented lines), table rows, and paragraphs."""
    items: list[Item] = []
    paragraph: list[str] = []
    table_header_seen = False

    def end_paragraph() -> None:
        if paragraph:
            prose = " ".join(paragraph)
            items.append(Item((normalize(prose),), _prose_units(prose)))
            paragraph.clear()

    for line in lines:
        if not line.strip():
            end_paragraph()
            table_header_seen = False
        elif line.startswith("|"):
            end_paragraph()
            if _MD_TABLE_RULE.match(line.lstrip("| ")) or not table_header_seen:
                table_header_seen = True
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            items.append(Item((normalize(" | ".join(cells)),)))
        elif _MD_LIST_ITEM.match(line):
            end_paragraph()
            items.append(Item((normalize(_MD_LIST_ITEM.sub("", line)),)))
        elif line[:1].isspace() and items and not paragraph:
            bullet = items[-1].readings[0] + "\n" + normalize(_MD_LIST_ITEM.sub("", line.strip()))
            items[-1] = Item((bullet,))
        else:
            paragraph.append(line.strip())
    end_paragraph()
    return items


def _read_markdown_page(path: Path, corpus: CorpusText) -> None:
    """A page exported as Markdown (Notion, Confluence): setext or `#` headings.

    The title is the `===`-underlined (or `# `) heading; sections are `---`-underlined or
    `## ` headings; subsections are `### ` headings, lines all in bold, and the `<summary>`
    of a `<details>` toggle. Properties and callouts above the first section are not
    content; the body ends at a horizontal rule (`***`, or `---` after a blank line).
    Emoji in the title are not part of the role's name.
    """
    lines = _atx_headings(path.read_text(encoding="utf-8").splitlines())
    title = next((m[2] for m in map(_MD_ATX.match, lines) if m and m[1] == "#"), None)
    if title is None:
        msg = f"{path}: a Markdown page needs a title: a heading underlined with === or a '# ' line"
        raise ValueError(msg)
    text = corpus.role(_role_name(without_symbols(title)), path)
    sections: list[ReadSection] = []
    block: list[str] = []

    def flush() -> None:
        if block and sections:
            sections[-1].parts[-1].items.extend(_markdown_items(block))
        block.clear()

    for line in lines:
        heading = _MD_ATX.match(line)
        subsection = _MD_BOLD_LINE.match(line) or _MD_SUMMARY.match(line)
        if heading and heading[1] == "##":
            flush()
            sections.append(ReadSection(heading[2], [Part("")]))
        elif not sections:
            continue
        elif heading and heading[1] == "###":
            flush()
            sections[-1].parts.append(Part(heading[2]))
        elif subsection:
            flush()
            sections[-1].parts.append(Part(_HTML_TAG.sub("", subsection[1]).strip(" *")))
        elif _MD_RULE.match(line.strip()):
            break
        elif not _MD_DETAILS.match(line):
            block.append(line)
    flush()
    text.sections.extend(sections)
    text.whole.append(_joined([i for s in sections for i in s.items()]))


def _atx_headings(lines: list[str]) -> list[str]:
    """Setext headings (a line underlined with `===` or `---`) written as `#` and `##` lines."""
    result: list[str] = []
    for line in lines:
        underline = _MD_SETEXT_UNDERLINE.match(line)
        above = result[-1] if result else ""
        if underline and above.strip() and not _MD_LIST_ITEM.match(above) and "|" not in above:
            result[-1] = ("# " if underline[1][0] == "=" else "## ") + above.strip()
        else:
            result.append(line)
    return result
