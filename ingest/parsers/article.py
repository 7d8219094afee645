"""HTML article to blueprint sections: the one implementation behind every full-blueprint parser.

WordPress post content, saved HTML pages and rendered Markdown all arrive here as a soup. The
section headings are found first; the element holding most of them is the article, and site
chrome (navigation, sidebars, share buttons, cookie banners, comments, footers) inside it is
dropped by tag, class and wording. A bullet keeps its sub-bullets as its children, however the
page writes them: nested lists, en-dash lines, or flat lists where `Item:` introduces the
items after it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement, PreformattedString

from assistant.models import Block, ListItem, Section, Table
from assistant.sections import classify_headings, section_key
from ingest.parsers.common import clean, without_pictographs

HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Fewer distinct known sections than this is an article that merely mentions "tools" or "KPIs".
MIN_KNOWN_SECTIONS = 3

# Never text a reader sees, wherever they are.
_DROPPED_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "object")
_CHROME_TAGS = frozenset(
    {"nav", "aside", "footer", "form", "button", "select", "input", "textarea", "dialog"}
)
_CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"}
)
# WordPress puts category and tag slugs (`category-social-media`) in these elements' classes.
_NEVER_CHROME = frozenset({"html", "body", "main", "article"})
_CHROME_ATTR = re.compile(
    r"(?:^|[\s_-])(?:"
    r"nav|navbar|navigation|menu|breadcrumbs?|pagination|pager|skip|toc|"
    r"sidebar|widgets?|footer|colophon|masthead|site-header|meta|author|"
    r"cookies?|consent|gdpr|banner|popup|modal|newsletter|subscribe|"
    r"share|sharing|sharedaddy|social|related\w*|comments?|respond|"
    r"ads?|adsbygoogle|advert\w*|sponsor\w*|cta|promo\w*|upsell|paywall|"
    r"screen-reader-text|sr-only|visually-hidden"
    r")(?=$|[\s_-])",
    re.IGNORECASE,
)
# Blocks and headings that are site furniture even when no class says so (Markdown exports).
CHROME_TEXT = re.compile(
    r"^(?:share\s+(?:this|on|via)\b|follow\s+us\b|like\s+this\b|"
    r"related(?:\s+(?:posts|articles|reading))?\s*:?$|you\s+(?:may|might)\s+also\s+like|"
    r"leave\s+a\s+(?:reply|comment)|\d*\s*comments?\s*:?$|post\s+navigation|about\s+the\s+author|"
    r"we\s+use\s+cookies|this\s+(?:web)?site\s+uses\s+cookies|(?:accept|reject|manage)\s+"
    r"(?:all\s+)?cookies|cookie\s+(?:policy|settings|preferences|consent)|©|copyright\s+"
    r"(?:©\s*)?\d{4}|all\s+rights\s+reserved|skip\s+to\s+(?:main\s+)?content|read\s+more\b|"
    r"continue\s+reading\b|advertisements?$|sponsored$|subscribe\b|posted\s+(?:on|in|by)\b|"
    r"(?:tags|categories|filed\s+under)\s*:|(?:previous|next)\s+post\b)",
    re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(
    {
        *HEADING_TAGS,
        *("address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt"),
        *("fieldset", "figcaption", "figure", "footer", "header", "hr", "li", "main", "nav"),
        *("ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th"),
        *("thead", "tr", "ul"),
    }
)
_LIST_TAGS = ("ul", "ol")
# A description's label: a short inline element it starts with (`<span>Target</span> 90%`).
_LABEL_TAGS = frozenset({"span", "strong", "b", "em", "i", "label", "small"})
_LABEL_LENGTH = 40
# "7) KPIs", "7. KPIs", "7: KPIs", "Section 7 — KPIs", "7 – KPIs"; a title starting with a
# digit ("7.1 Scope", "30-day goals") is not one.
_NUMBERED = re.compile(
    r"^(?:(?:section|part|chapter)\s+)?(\d{1,2})\s*(?:[).:]|\s[-\u2013\u2014])\s*([^\d\s].*)$",
    re.IGNORECASE,
)
# WordPress posts written as plain text keep their bullets as lines starting with an en dash
# (or a pasted "•").
_PSEUDO_BULLET = re.compile(r"^\s*[\u2013\u2022]\s+")
# A paragraph or list this much link text is navigation, share buttons or a footer.
_LINK_SHARE = 0.8
# Real pages nest a few dozen elements deep; below this, an element's subtree is kept as plain
# text, so that walking the tree can never exhaust Python's recursion limit.
MAX_DEPTH = 100


def load_html(markup: str) -> BeautifulSoup:
    """Parse HTML, without the elements that never hold readable text, at most `MAX_DEPTH` deep."""
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    _flatten_below(soup, MAX_DEPTH)
    return soup


def _flatten_below(soup: BeautifulSoup, depth: int) -> None:
    """Replace the subtree of every element `depth` levels down by its text."""
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        tag, level = stack.pop()
        children = [child for child in tag.children if isinstance(child, Tag)]
        if level < depth:
            stack.extend((child, level + 1) for child in children)
        elif children:
            text = tag.get_text()
            tag.clear()
            tag.append(text)


def is_chrome(tag: Tag) -> bool:
    """Whether an element is site chrome rather than article content."""
    name = tag.name
    if name in _NEVER_CHROME:
        return False
    if name in _CHROME_TAGS or tag.has_attr("hidden"):
        return True
    # An article's own <header> holds its title, which listing pages need.
    if name == "header" and tag.find_parent("article") is None:
        return True
    if str(tag.get("role", "")).lower() in _CHROME_ROLES:
        return True
    if str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    if re.search(r"display\s*:\s*none", str(tag.get("style", ""))):
        return True
    names = [*tag.get_attribute_list("class"), str(tag.get("id", ""))]
    return bool(_CHROME_ATTR.search(" ".join(str(n) for n in names if n)))


def is_chrome_within(tag: Tag, root: Tag) -> bool:
    """Whether the element, or one of its ancestors below `root`, is site chrome."""
    node: Tag | None = tag
    while node is not None and node is not root:
        if is_chrome(node):
            return True
        node = node.parent
    return False


def content_root(marks: list[Tag]) -> Tag:
    """The deepest element holding more than half of the marks (section headings, titles).

    A majority rather than all of them, so that one heading in a sidebar widget cannot widen
    the article to the whole page.
    """
    counts: Counter[int] = Counter()
    depths: dict[int, tuple[int, Tag]] = {}
    for mark in marks:
        for depth, ancestor in enumerate(reversed(list(mark.parents))):
            counts[id(ancestor)] += 1
            depths[id(ancestor)] = (depth, ancestor)
    holders = [depths[key] for key, n in counts.items() if 2 * n > len(marks)]
    return max(holders, key=lambda pair: pair[0])[1]


def text_lines(nodes: Iterable[PageElement]) -> list[str]:
    """The non-blank text lines of some nodes; `<br>` and block elements end a line.

    Source line breaks are kept too: they are what marks WordPress pseudo-bullets.
    """
    parts: list[str] = []
    _collect_text(nodes, parts)
    return [line for line in "".join(parts).split("\n") if line.strip()]


def heading_text(tag: Tag) -> str:
    """A heading's text, without the permalink markers some themes append."""
    return without_pictographs(" ".join(text_lines(tag.children))).strip(" #¶§")


def article_sections(soup: Tag) -> list[Section]:
    """The blueprint sections of an HTML document, or `[]` when it holds no blueprint.

    Sections are the headings at one level, numbered (`7) KPIs ...`) or, when no heading is
    numbered, titled like blueprint sections; the level below gives subsections.
    """
    headings = [_Heading.of(tag) for tag in soup.find_all(HEADING_TAGS)]
    plan = _plan(headings)
    if plan is None:
        return []
    sections = {id(h.tag): h for h in plan.sections}
    builder = _SectionBuilder()
    root = content_root([h.tag for h in plan.sections])
    remaining = len(plan.sections)
    for event in _events(root, frozenset(sections)):
        if isinstance(event, Block):
            builder.add(event)
            continue
        if isinstance(event, _Subheading):
            builder.start_subsection(event.text, soft=True)
            continue
        if event.name == "hr":
            if not remaining:
                # A rule after the last section sets the page's footer apart ("Related pages",
                # "Last edited by …"): the blueprint ends there.
                builder.stop()
            continue
        section = sections.get(id(event))
        remaining -= section is not None
        level = int(event.name[1])
        text = heading_text(event)
        if section is not None:
            builder.start_section(section.number, section.title, plan.keys[id(event)])
        elif level <= plan.level or CHROME_TEXT.match(text):
            # "Related posts", "Leave a Reply" and the like end the blueprint's content.
            builder.stop()
        elif level == plan.level + 1:
            builder.start_subsection(text)
        elif text:
            builder.add(Block(kind="paragraph", text=text))
    return builder.sections()


@dataclass(frozen=True)
class _Heading:
    tag: Tag
    level: int
    number: int
    title: str

    @classmethod
    def of(cls, tag: Tag) -> _Heading:
        text = heading_text(tag)
        match = _NUMBERED.match(text)
        if match:
            return cls(tag, int(tag.name[1]), int(match[1]), clean(match[2]))
        return cls(tag, int(tag.name[1]), 0, text)


@dataclass(frozen=True)
class _Plan:
    level: int
    sections: list[_Heading]
    keys: dict[int, str]


def _plan(headings: list[_Heading]) -> _Plan | None:
    """Which headings are the sections: numbered ones if any level has enough, else titled ones.

    Titled headings are read together (`classify_headings`): one no pattern knows can still
    be a section by its place among the others.
    """
    for numbered in (True, False):
        by_level = {
            level: [h for h in headings if h.level == level and (h.number or not numbered)]
            for level in range(1, 7)
        }
        keys = {
            level: (
                [section_key(h.title, h.number) for h in found]
                if numbered
                else classify_headings([h.title for h in found])
            )
            for level, found in by_level.items()
        }
        # Numbers alone make no blueprint ("1) Jenkins, 2) GitLab CI"): titles must say so.
        titled = {
            level: [section_key(h.title) for h in found] if numbered else keys[level]
            for level, found in by_level.items()
        }
        known = {level: len(set(found) - {"other"}) for level, found in titled.items()}
        # The outermost qualifying level: the one below it repeats section words in subsections.
        level = next((lv for lv in sorted(known) if known[lv] >= MIN_KNOWN_SECTIONS), 0)
        if not level:
            continue
        chosen = [
            (h, key)
            for h, key in zip(by_level[level], keys[level], strict=True)
            if numbered or key != "other"
        ]
        return _Plan(level, [h for h, _ in chosen], {id(h.tag): key for h, key in chosen})
    return None


class _SectionBuilder:
    """Collects blocks under the current section and subsection."""

    def __init__(self) -> None:
        self._sections: list[list[Section]] = []
        self._collecting = False
        self._headed = False

    def start_section(self, number: int, title: str, key: str) -> None:
        self._sections.append([Section(number=number, title=title, key=key)])
        self._collecting = True
        self._headed = False

    def start_subsection(self, name: str, *, soft: bool = False) -> None:
        """Start a subsection; a soft one (a bold title line) only where no heading made one."""
        if soft and self._headed:
            return
        self._headed = self._headed or not soft
        if self._collecting and name:
            own = self._sections[-1][0]
            part = Section(number=own.number, title=own.title, key=own.key, subsection=name)
            self._sections[-1].append(part)

    def stop(self) -> None:
        self._collecting = False

    def add(self, block: Block) -> None:
        if self._collecting:
            self._sections[-1][-1].blocks.append(block)

    def sections(self) -> list[Section]:
        # A section that goes straight into its subsections has no content of its own; it is
        # kept empty only when it has nothing else, so that every heading stays listed.
        result: list[Section] = []
        for parts in self._sections:
            result.extend([part for part in parts if part.blocks] or parts[:1])
        return result


@dataclass(frozen=True)
class _Subheading:
    """A paragraph that titles the bullets after it, as a heading would."""

    text: str


def _bold_title(paragraph: Tag, blocks: list[Block]) -> str:
    """The lead-in of a paragraph that is all bold and followed by its own bullets, else "".

    WordPress posts often group a section's bullets under such lines ("**Governance and
    risk deliverables**" then the deliverables): they are subsections without a heading tag.
    A lead-in ending in ":" or "." is a sentence or a label, not a title.
    """
    if len(blocks) < 2 or blocks[0].kind != "paragraph" or blocks[1].kind != "bullets":
        return ""
    lead = blocks[0].text
    first = next((c for c in paragraph.children if not _blank(c)), None)
    if not isinstance(first, Tag) or first.name not in {"strong", "b"}:
        return ""
    if clean(first.get_text()) != lead or lead.endswith((":", ".")) or len(lead) > 80:
        return ""
    return lead


def _bold_line(paragraph: Tag) -> str | None:
    """The title a paragraph of bold text alone gives the list or table after it, else None.

    Markdown has no subheading between `###` and a bullet: "**Days 1–30 · Listen and
    measure**" or "**Decides alone**" on a line of its own, then the list. A line ending in "."
    is a sentence in bold, not a title.
    """
    parts = [c for c in paragraph.children if not _blank(c)]
    if len(parts) != 1 or not isinstance(parts[0], Tag) or parts[0].name not in {"strong", "b"}:
        return None
    title = without_pictographs(parts[0].get_text()).rstrip(":").strip()
    if not title or title.endswith(".") or len(title) > 80:
        return None
    after = paragraph.find_next_sibling(True)
    if not isinstance(after, Tag) or after.name not in {*_LIST_TAGS, "table", "dl", "details"}:
        return None
    return title


def _blank(node: PageElement) -> bool:
    return isinstance(node, NavigableString) and not str(node).strip()


def _events(parent: Tag, marks: frozenset[int]) -> Iterator[Tag | Block | _Subheading]:
    """Headings and rules (as tags) and content blocks in document order, chrome left out."""
    run: list[PageElement] = []
    for child in parent.children:
        if not isinstance(child, Tag) or (
            child.name not in _BLOCK_TAGS and child.find(_BLOCK_TAGS) is None
        ):
            run.append(child)
            continue
        if is_chrome(child) and not any(id(h) in marks for h in child.find_all(HEADING_TAGS)):
            continue
        yield from _text_blocks(text_lines(run))
        run = []
        if child.name in HEADING_TAGS or child.name == "hr":
            yield child
        elif child.name == "p":
            if (title := _bold_line(child)) is not None:
                yield _Subheading(title)
            elif not _mostly_links(child):
                blocks = _text_blocks(text_lines(child.children))
                title = _bold_title(child, blocks)
                if title:
                    yield _Subheading(title)
                    blocks = blocks[1:]
                yield from blocks
        elif child.name == "details" and (summary := child.find("summary")) is not None:
            # A toggle ("<summary>Every week</summary>" and its list) titles what it holds.
            title = heading_text(summary)
            summary.decompose()
            if title:
                yield _Subheading(title)
            yield from _events(child, marks)
        elif child.name in _LIST_TAGS:
            items = _list_items(child)
            if items and not _mostly_links(child):
                yield Block(kind="bullets", items=items)
        elif child.name == "table":
            table = _table(child)
            if table is not None:
                yield Block(kind="table", table=table)
        elif child.name == "dl" and (definitions := _definitions(child)) is not None:
            yield definitions
        else:
            yield from _events(child, marks)
    yield from _text_blocks(text_lines(run))


def _collect_text(nodes: Iterable[PageElement], parts: list[str]) -> None:
    for node in nodes:
        if isinstance(node, NavigableString):
            # Comments, doctypes and CDATA are strings too, but not text.
            if not isinstance(node, PreformattedString):
                parts.append(str(node))
        elif isinstance(node, Tag) and not is_chrome(node):
            if node.name == "br":
                parts.append("\n")
            elif node.name in _BLOCK_TAGS:
                parts.append("\n")
                _collect_text(node.children, parts)
                parts.append("\n")
            else:
                _collect_text(node.children, parts)


def _split_pseudo_bullets(lines: list[str]) -> tuple[str, list[ListItem]]:
    """A paragraph's lead-in text and its en-dash pseudo-bullets; wrapped lines rejoin theirs.

    A pseudo-bullet indented deeper than the bullet before it is that bullet's sub-bullet.
    """
    lead: list[str] = []
    bullets: list[tuple[int, list[str]]] = []
    for line in lines:
        bullet = _PSEUDO_BULLET.match(line)
        if bullet:
            bullets.append((len(line) - len(line.lstrip()), [line[bullet.end() :]]))
        elif bullets:
            bullets[-1][1].append(line)
        else:
            lead.append(line)
    items: list[ListItem] = []
    top_indent = 0
    for indent, wrapped in bullets:
        text = clean(" ".join(wrapped))
        if not text:
            continue
        if items and indent > top_indent:
            items[-1].children.append(text)
        else:
            items.append(ListItem(text=text))
            top_indent = indent
    return clean(" ".join(lead)), items


def _text_blocks(lines: list[str]) -> list[Block]:
    if not lines or CHROME_TEXT.match(clean(" ".join(lines))):
        return []
    lead, bullets = _split_pseudo_bullets(lines)
    blocks = [Block(kind="paragraph", text=lead)] if lead else []
    if bullets:
        blocks.append(Block(kind="bullets", items=_group_under_colons(bullets)))
    return blocks


def _group_under_colons(items: list[ListItem]) -> list[ListItem]:
    """A list written flat, where an item ending with ":" introduces the items after it.

    WordPress editors write sub-bullets as siblings (`Review health dashboards for:`, then
    the dashboards): each run of items that do not end with ":" becomes the children of the
    colon item before it. A list that is already nested stays as it is, and so does one whose
    colon items introduce nothing (every item ends with ":", or only the last one does).
    """
    if any(item.children for item in items):
        return items
    grouped: list[ListItem] = []
    opener: ListItem | None = None
    for item in items:
        if item.text.endswith(":"):
            opener = ListItem(text=item.text)
            grouped.append(opener)
        elif opener is not None:
            opener.children.append(item.text)
        else:
            grouped.append(item)
    return grouped


def _list_items(list_tag: Tag) -> list[ListItem]:
    """The items of a list, each with its nested items and pseudo-bullets as its children."""
    return _group_under_colons(_nested_items(list_tag))


def _nested_items(list_tag: Tag) -> list[ListItem]:
    items: list[ListItem] = []
    for li in list_tag.find_all("li", recursive=False):
        items.extend(_li_items(li))
    return items


def _li_items(li: Tag) -> list[ListItem]:
    """One item for an `<li>` that starts with text; below it, everything else in reading order.

    An `<li>` with no text of its own before its nested list (or its pseudo-bullets) has no
    parent to keep: what it holds are items in their own right.
    """
    parts: list[ListItem] = []
    starts_with_text = False
    run: list[PageElement] = []
    children = [c for c in li.children if not _blank(c)]
    if children and isinstance(children[0], Tag) and children[0].name in HEADING_TAGS:
        # A card (`<li><h4>Telephony</h4><p>Talkdesk, Five9</p></li>`): its title labels it.
        title = heading_text(children[0])
        nested = any(isinstance(c, Tag) and c.name in _LIST_TAGS for c in children[1:])
        body = clean(" ".join(text_lines(children[1:])))
        if title and body and not nested:
            return [ListItem(text=f"{title}: {body}")]
    # `None` ends the last run of text.
    for child in [*li.children, None]:
        if child is not None and not (isinstance(child, Tag) and child.name in _LIST_TAGS):
            run.append(child)
            continue
        lead, bullets = _split_pseudo_bullets(text_lines(run))
        run = []
        if lead:
            starts_with_text = starts_with_text or not parts
            parts.append(ListItem(text=lead))
        parts.extend(bullets)
        if child is not None:
            parts.extend(_nested_items(child))
    if not starts_with_text:
        return parts
    first, *rest = parts
    return [ListItem(text=first.text, children=[t for p in rest for t in (p.text, *p.children)])]


def _table(tag: Tag) -> Table | None:
    """A table: its header (a `<thead>` row or a first row of `<th>`) and all the other rows."""
    rows: list[tuple[bool, list[str]]] = []
    for tr in tag.find_all("tr"):
        if tr.find_parent("table") is not tag:
            continue  # a row of a nested table
        cells = tr.find_all(["th", "td"], recursive=False)
        texts = [clean(" ".join(text_lines(cell.children))) for cell in cells]
        if any(texts):  # a spacer row has nothing to keep
            in_head = tr.parent is not None and tr.parent.name == "thead"
            rows.append((in_head or all(cell.name == "th" for cell in cells), texts))
    if not rows:
        return None
    if rows[0][0]:
        return Table(header=rows[0][1], rows=[cells for _, cells in rows[1:]])
    return Table(header=[], rows=[cells for _, cells in rows])


def _definitions(tag: Tag) -> Block | None:
    """A definition list (`<dl>`, its groups maybe wrapped in `<div>`s) as one block.

    Terms whose descriptions are labelled (`<dd><span>Target</span> 90%</dd>`, as metric
    cards are) make a table: a column for the terms, one per label, and "Notes" for the
    rest. Otherwise each term is a bullet with its descriptions ("Term: description").
    """
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for node in tag.find_all(["dt", "dd"]):
        if node.find_parent("dl") is not tag:
            continue  # a list nested in a description
        if node.name == "dt":
            groups.append((clean(" ".join(text_lines(node.children))), []))
        elif groups:
            groups[-1][1].append(_labelled(node))
    groups = [(term, described) for term, described in groups if term]
    if not groups:
        return None
    labels = list(dict.fromkeys(label for _, found in groups for label, _ in found if label))
    if not labels:
        items = [
            ListItem(text=f"{term}: {found[0][1]}" if found else term)
            if len(found) <= 1
            else ListItem(text=f"{term}:", children=[text for _, text in found])
            for term, found in groups
        ]
        return Block(kind="bullets", items=items)
    notes = any(not label for _, found in groups for label, _ in found)
    header = ["Name", *labels, *(["Notes"] if notes else [])]
    rows = []
    for term, found in groups:
        cells = dict.fromkeys(header[1:], "")
        for label, text in found:
            column = label or "Notes"
            cells[column] = f"{cells[column]} {text}".strip()
        rows.append([term, *cells.values()])
    return Block(kind="table", table=Table(header=header, rows=rows))


def _labelled(description: Tag) -> tuple[str, str]:
    """A `<dd>` as (its label, its text): the label is a short leading inline element."""
    first = next((c for c in description.children if not _blank(c)), None)
    text = clean(" ".join(text_lines(description.children)))
    if isinstance(first, Tag) and first.name in _LABEL_TAGS:
        label = clean(first.get_text(" "))
        rest = text[len(label) :].strip(" :–—-") if text.startswith(label) else ""
        if label and rest and len(label) <= _LABEL_LENGTH:
            return label.rstrip(":"), rest
    return "", text


def _mostly_links(tag: Tag) -> bool:
    text = sum(char.isalnum() for char in tag.get_text())
    linked = sum(char.isalnum() for link in tag.find_all("a") for char in link.get_text())
    return text > 0 and linked >= _LINK_SHARE * text
