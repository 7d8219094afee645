"""Fuzzing the parsers: whatever the bytes, only `SourceError` gets out, and what comes out is usable.

Random text and bytes, random HTML trees, random JSON values and mutations of the real seeds
(truncation, byte flips, tag soup, deleted closing tags, duplicated sections, deep nesting,
huge attributes, wrong encodings) go through `parse_source` and `chunk_blueprint`.

The gate runs a fixed, derandomized sample so that it never flakes; to look for new crashes,
run `BLUEPRINTS_FUZZ=explore .venv/bin/pytest tests/unit/test_parser_fuzz.py`, which draws
fresh inputs, ten times as many. Every crash found gets a regression test of its own in
`test_parsers.py`.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.models import Blueprint
from ingest.chunker import chunk_blueprint
from ingest.errors import SourceError
from ingest.parsers import parse_source
from ingest.parsers.common import has_text

ROOT = Path(__file__).resolve().parents[2]
BAD_SEEDS = sorted((ROOT / "tests" / "fixtures" / "bad").iterdir())
SEEDS = sorted(
    [
        *(ROOT / "data" / "blueprints").iterdir(),
        *(p for p in (ROOT / "tests" / "fixtures").iterdir() if p.is_file()),
        *BAD_SEEDS,
    ]
)
SEED_BYTES = {path.name: path.read_bytes() for path in SEEDS}
EXTENSIONS = [".json", ".html", ".md", ".txt", ""]

EXPLORE = os.environ.get("BLUEPRINTS_FUZZ") == "explore"


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples * (10 if EXPLORE else 1),
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_source(path: Path, data: bytes, chunk_size: int = 400) -> list[Blueprint]:
    """Parse and chunk one file; fail on anything but a well-formed result or a `SourceError`."""
    path.write_bytes(data)
    try:
        parsed = parse_source(path)
    except SourceError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        assert exc.problem
        return []
    for problem in parsed.problems:
        assert isinstance(problem, SourceError)
        assert str(problem).startswith(f"{path}: ")
    assert parsed.blueprints, "parse_source returned nothing without raising"
    for blueprint in parsed.blueprints:
        check_blueprint(blueprint, chunk_size)
    return parsed.blueprints


def check_blueprint(blueprint: Blueprint, chunk_size: int) -> None:
    assert blueprint.role.strip() and blueprint.role_id
    assert any(has_text(section) for section in blueprint.sections)
    chunks = chunk_blueprint(blueprint, chunk_size)
    assert chunks
    for chunk in chunks:
        path = " > ".join(p for p in (blueprint.role, chunk.section, chunk.subsection) if p)
        first, *body = chunk.text.split("\n")
        assert first == path
        assert body and all(line.strip() for line in body)
        # A sub-bullet always has its bullet above it in the same chunk.
        for n, line in enumerate(body):
            if line.startswith("  - "):
                assert any(above.startswith("- ") for above in body[:n]), chunk.text


def write_and_check(workdir: Path, extension: str, data: bytes) -> list[Blueprint]:
    return check_source(workdir / f"input{extension}", data)


# --- random inputs ------------------------------------------------------------------------


@fuzz(200)
@given(text=st.text(max_size=2000), extension=st.sampled_from(EXTENSIONS))
def test_random_text(workdir: Path, text: str, extension: str) -> None:
    write_and_check(workdir, extension, text.encode("utf-8", "surrogatepass"))


@fuzz(100)
@given(data=st.binary(max_size=2000))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    write_and_check(workdir, ".bin", data)


_WORDS = st.sampled_from(
    [
        "1) Role Summary",
        "3) Core Responsibilities",
        "7) KPIs and Productivity Metrics",
        "20) Final Role Scorecard Summary",
        "Role Summary",
        "Key Deliverables",
        "Tools, Platforms, and Software",
        "Director of Testing: Role Blueprint",
        "Review dashboards for:",
        "– a pseudo-bullet",
        "  – an indented one",
        "Read more »",
        "Share this",
        "≥ 99% < 2 hours & more",
        "",
        " ",
        "\n",
    ]
)
_TEXT = _WORDS | st.text(max_size=40)
_TAGS = st.sampled_from(
    "h1 h2 h3 h4 p ul ol li table thead tbody tr th td div span strong a br article main "
    "nav footer aside header section figure script style template blockquote pre".split()
)
_ATTRIBUTES = st.sampled_from(
    [
        "",
        ' class="wp-block-heading"',
        ' class="sidebar"',
        ' class="entry-content"',
        " hidden",
        ' style="display:none"',
        ' role="navigation"',
        ' aria-hidden="true"',
        ' href="https://example.com/x"',
        ' id="comments"',
    ]
)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attributes, inner, closed: (
            f"<{tag}{attributes}>{''.join(inner)}{f'</{tag}>' if closed else ''}"
        ),
        _TAGS,
        _ATTRIBUTES,
        st.lists(children, max_size=6),
        st.booleans(),
    )


HTML = st.recursive(_TEXT, _element, max_leaves=60)


@fuzz(200)
@given(
    title=_TEXT,
    body=st.lists(HTML, max_size=8),
    extension=st.sampled_from(EXTENSIONS),
)
def test_random_html_trees(workdir: Path, title: str, body: list[str], extension: str) -> None:
    markup = f"<!doctype html><html><head><title>{title}</title></head><body>{''.join(body)}"
    write_and_check(workdir, extension, markup.encode())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["id", "title", "content", "rendered", "link", "modified_gmt", "code"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=40,
)
POST = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers() | st.text(max_size=5) | st.none() | st.booleans(),
        "title": st.fixed_dictionaries({"rendered": _TEXT}) | JSON,
        "content": st.fixed_dictionaries({"rendered": st.lists(HTML, max_size=6).map("".join)})
        | JSON,
        "link": _TEXT | JSON,
        "modified_gmt": st.sampled_from(["2026-04-15T19:33:30", "not a date", "9999-99-99"]) | JSON,
        "message": _TEXT,
        "code": _TEXT,
    },
)


@fuzz(200)
@given(value=JSON)
def test_random_json_values(workdir: Path, value: object) -> None:
    write_and_check(workdir, ".json", json.dumps(value).encode())


@fuzz(150)
@given(posts=st.lists(POST, max_size=4) | POST)
def test_random_post_shaped_json(workdir: Path, posts: object) -> None:
    write_and_check(workdir, ".json", json.dumps(posts).encode())


# --- blueprint skeletons -----------------------------------------------------------------

_SECTION_TITLES = st.sampled_from(
    [
        "1) Role Summary",
        "2) Role Mission",
        "3) Core Responsibilities",
        "4) Day-to-Day Activities",
        "7) KPIs and Productivity Metrics",
        "10) Tools, Platforms, and Software",
        "15) Career Path and Progression",
        "Role Summary",
        "Core Responsibilities",
        "Skills",
    ]
)
# What a section may hold: often nothing a reader would see.
_HTML_CONTENT = st.sampled_from(
    [
        "",
        " ",
        "<p></p>",
        "<p> &nbsp; </p>",
        "<ul><li> </li></ul>",
        "<ol><li><ul><li></li></ul></li></ol>",
        "<table><tr><td> </td></tr></table>",
        "<nav><a href='/'>Home</a></nav>",
        "<p>Share this:</p>",
        "<script>var x = 1;</script>",
        '<div class="sidebar"><p>Related posts</p></div>',
        "<p>Owns the roadmap.</p>",
        "<ul><li>Review:</li><li>Cost</li></ul>",
        "<ul><li>Lead<ul><li>Sub</li></ul></li></ul>",
        "<p>Works with:<br/>&#8211; Product<br/>  &#8211; PMs</p>",
        "<table><thead><tr><th>Metric</th></tr></thead><tr><td>Uptime</td></tr></table>",
    ]
)
_MARKDOWN_CONTENT = st.sampled_from(
    [
        "",
        "   ",
        "<!-- nothing -->",
        "- ",
        "Share this",
        "Owns the roadmap.",
        "- Review:\n- Cost",
        "- Lead\n  - Sub\n    - Deeper",
        "| Metric |\n| --- |\n| Uptime |",
        "| Metric |\n| --- |\n|  |",
    ]
)


@st.composite
def skeletons(draw: st.DrawFn) -> tuple[str, bytes]:
    """A blueprint-shaped document whose sections may be empty, as HTML, Markdown or a post."""
    title = draw(
        st.sampled_from(
            [
                "Director of Testing",
                "",
                "Director of Testing: Role Blueprint",
                ": Role Blueprint",
                "データ",
            ]
        )
    )
    form = draw(st.sampled_from(["html", "markdown", "post", "posts"]))
    content = _MARKDOWN_CONTENT if form == "markdown" else _HTML_CONTENT
    sections = draw(
        st.lists(st.tuples(_SECTION_TITLES, st.lists(content, max_size=3)), min_size=2, max_size=6)
    )
    if form == "markdown":
        body = "".join(
            f"\n## {heading}\n\n" + "\n\n".join(parts) + "\n" for heading, parts in sections
        )
        return ".md", f"# {title}\n{body}".encode()
    body = "".join(f"<h2>{heading}</h2>" + "".join(parts) for heading, parts in sections)
    if form == "html":
        return (
            ".html",
            f"<html><body><article><h1>{title}</h1>{body}</article></body></html>".encode(),
        )
    post = {"id": 7, "title": {"rendered": title}, "content": {"rendered": body}}
    if form == "post":
        return ".json", json.dumps(post).encode()
    others = draw(
        st.lists(
            st.sampled_from([post, json.loads(SEED_BYTES["posts-list.wordpress.json"])[0], 0]),
            min_size=1,
            max_size=3,
        )
    )
    return ".json", json.dumps([post, *others]).encode()


@fuzz(200)
@given(document=skeletons())
def test_blueprint_skeletons(workdir: Path, document: tuple[str, bytes]) -> None:
    write_and_check(workdir, *document)


@fuzz(60)
@given(depth=st.integers(500, 5000), opener=st.sampled_from(["[", '{"a":', '[{"title":']))
def test_deeply_nested_json(workdir: Path, depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '[{"title":': "}]"}[opener]
    write_and_check(workdir, ".json", (opener * depth + "1" + closer * depth).encode())


# --- mutations of the real seeds ----------------------------------------------------------

_SOUP = [
    "<ul>",
    "<li>",
    "</ul>",
    "</li>",
    "<h2>",
    "</h2>",
    "<table>",
    "</td>",
    "<tr>",
    "<!--",
    "-->",
    "<![CDATA[",
    "<p>",
    "</div>",
    "<nav>",
    "<script>",
    "&#8211; ",
    "<br/>",
    "\n## 4) Day-to-Day Activities\n",
    "\n  - ",
    "\\u0000",
    '"',
    "}",
    "]",
    ":",
]
_OPENERS = [
    b"<div>",
    b"<ul><li>",
    b"<span>",
    b"<b>",
    b"<blockquote>",
    b"<table><tr><td>",
    b"> ",
    b"  - ",
    b"[",
]


def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if buffer:
            buffer[draw(st.integers(0, len(buffer) - 1))] ^= draw(st.integers(1, 255))
    return bytes(buffer)


def _tag_soup(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        soup = "".join(draw(st.lists(st.sampled_from(_SOUP), min_size=1, max_size=8)))
        data = data[:at] + soup.encode() + data[at:]
    return data


def _drop_closing_tags(draw: st.DrawFn, data: bytes) -> bytes:
    # Every closing tag of one name, or a random share of all of them.
    names = sorted(set(re.findall(rb"</([a-zA-Z0-9]+)>", data))) or [b"p"]
    name = draw(st.sampled_from([b"*", *names]))
    keep = draw(st.integers(0, 3))
    pattern = rb"</[a-zA-Z0-9]+>" if name == b"*" else b"</" + re.escape(name) + b">"
    count = 0

    def drop(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        return match[0] if keep and count % (keep + 1) == 0 else b""

    return re.sub(pattern, drop, data)


def _duplicate(draw: st.DrawFn, data: bytes) -> bytes:
    starts = [m.start() for m in re.finditer(rb"<h2|\n## |\\u003ch2", data)] or [0]
    start = draw(st.sampled_from(starts))
    end = draw(st.integers(start, min(len(data), start + 8000)))
    return data[:end] + data[start:end] * draw(st.integers(1, 4)) + data[end:]


def _deep_nesting(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    opener = draw(st.sampled_from(_OPENERS))
    depth = draw(st.sampled_from([150, 600, 1500, 3000]))
    return data[:at] + opener * depth + data[at:]


def _huge_attribute(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    name = draw(st.sampled_from([b"class", b"style", b"id", b"href"]))
    value = draw(st.sampled_from([b"x", b"nav ", b"display ", b"a-"])) * draw(
        st.sampled_from([5_000, 50_000])
    )
    return data[:at] + b"<div " + name + b'="' + value + b'">' + data[at:]


MUTATIONS = {
    "truncation": _truncate,
    "byte-flips": _flip,
    "tag-soup": _tag_soup,
    "deleted-closing-tags": _drop_closing_tags,
    "duplicated-sections": _duplicate,
    "deep-nesting": _deep_nesting,
    "huge-attribute": _huge_attribute,
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@fuzz(30)
@given(data=st.data(), name=st.sampled_from(sorted(SEED_BYTES)), inside_json=st.booleans())
def test_mutated_seeds(
    workdir: Path, mutation: str, data: st.DataObject, name: str, inside_json: bool
) -> None:
    seed = SEED_BYTES[name]
    mutate = MUTATIONS[mutation]
    if inside_json and name.endswith(".json") and name != "truncated.wordpress.json":
        # Mutating JSON text mostly breaks the JSON; this reaches the HTML of its posts.
        decoded = json.loads(seed)
        posts = decoded if isinstance(decoded, list) else [decoded]
        for post in posts:
            if isinstance(post, dict) and isinstance(post.get("content"), dict):
                html = post["content"]["rendered"].encode()
                post["content"]["rendered"] = mutate(data.draw, html).decode("utf-8", "replace")
        write_and_check(workdir, ".json", json.dumps(decoded).encode())
    else:
        write_and_check(workdir, Path(name).suffix, mutate(data.draw, seed))


ENCODINGS = ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bom", [False, True], ids=["", "utf8-bom"])
def test_seeds_in_wrong_encodings(workdir: Path, encoding: str, bom: bool) -> None:
    for name, seed in SEED_BYTES.items():
        data = seed.decode("utf-8", "replace").encode(encoding, "replace")
        write_and_check(workdir, Path(name).suffix, codecs.BOM_UTF8 + data if bom else data)


@pytest.mark.parametrize("name", sorted(SEED_BYTES))
def test_unmutated_seeds_pass_the_same_checks(workdir: Path, name: str) -> None:
    # The checks are not vacuous: the good seeds parse into blueprints that meet them.
    blueprints = write_and_check(workdir, Path(name).suffix, SEED_BYTES[name])
    assert bool(blueprints) != (name in {p.name for p in BAD_SEEDS})
