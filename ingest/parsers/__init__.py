"""Read a blueprint source file, whatever its format, into blueprints.

The format is decided from the content, not the file name: WordPress REST API JSON, a saved
HTML page (a blueprint or a category listing), or Markdown and plain text (a blueprint, or a
listing of roles like `engineering-leadership-roles.listing.txt`).

Whatever the bytes, the only exception that leaves `parse_source` is `SourceError`, and every
blueprint it returns has a role and at least one section with text.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Literal

from ingest.errors import SourceError
from ingest.parsers.common import ParsedSource
from ingest.parsers.html import parse_html
from ingest.parsers.markdown import parse_markdown
from ingest.parsers.wordpress import parse_wordpress, parse_wordpress_post

__all__ = ["ParsedSource", "detect_format", "parse_source", "parse_wordpress_post"]

Format = Literal["wordpress", "html", "markdown"]

# Blueprint pages are a few hundred kB; anything this big is the wrong file.
MAX_BYTES = 20 * 1024 * 1024
_EXPECTED = "expected WordPress post JSON, an HTML or Markdown blueprint, or a listing page"
# `[` must be followed by a value, so that Markdown starting with a link is not taken for JSON.
_JSON_START = re.compile(r"\A\s*(?:\{|\[\s*(?:[{\[\"\]]|\Z))")
_HTML_START = re.compile(r"\A\s*<(?:!doctype|!--|[a-z][a-z0-9-]*[\s/>])", re.IGNORECASE)
_DOCUMENT_START = re.compile(r"\A\s*<(?:!doctype|html)\b", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)


def parse_source(path: Path) -> ParsedSource:
    """The blueprints in one source file: one for a blueprint page, one per role for a listing.

    A file that is partly readable (a list of posts with a broken one) gives its good
    blueprints and reports the rest as `ParsedSource.problems`.

    Raises:
        SourceError: the file cannot be read, is not text, or holds no blueprint; the message
            names the file and says what to do.
    """
    text = _read_text(path)
    match detect_format(text):
        case "wordpress":
            return parse_wordpress(_load_json(text, path), path)
        case "html":
            return ParsedSource(parse_html(text, path))
        case "markdown":
            return ParsedSource(parse_markdown(text, path))


def detect_format(text: str) -> Format:
    """The format of a source from its content.

    HTML that contains Markdown headings is a Markdown file that starts with inline HTML,
    unless it starts as a full HTML document.
    """
    if _JSON_START.match(text):
        return "wordpress"
    if _DOCUMENT_START.match(text) or (
        _HTML_START.match(text) and not _MARKDOWN_HEADING.search(text)
    ):
        return "html"
    return "markdown"


def _load_json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        msg = (
            f"invalid JSON at line {err.lineno}, column {err.colno} ({err.msg}); the file "
            "looks truncated or corrupt, download the post again"
        )
        raise SourceError(path, msg) from None
    except RecursionError:
        # No post nests this deep: `[[[[…` is a corrupt file, or a hostile one.
        msg = "JSON nested too deeply to be a WordPress post; download the post again"
        raise SourceError(path, msg) from None


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            msg = f"is {size // 2**20} MiB, too big for a blueprint; check it is the right file"
            raise SourceError(path, msg)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(path, "file not found; check the path") from None
    except IsADirectoryError:
        raise SourceError(path, "is a directory; pass a blueprint file") from None
    except PermissionError:
        raise SourceError(path, "permission denied; make the file readable") from None
    except OSError as err:
        msg = f"cannot be read ({err.strerror or err}); check the path and permissions"
        raise SourceError(path, msg) from None
    text = _decode(raw, path)
    if not text.strip():
        raise SourceError(path, f"is empty; {_EXPECTED}")
    return text


def _decode(raw: bytes, path: Path) -> str:
    # PowerShell's `>` writes UTF-16 with a byte-order mark, whose text is full of NUL bytes.
    encoding = "utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ""
    if not encoding and b"\x00" in raw:
        raise SourceError(path, f"holds binary data (NUL bytes), not text; {_EXPECTED}")
    try:
        return raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as err:
        msg = f"is not UTF-8 text (undecodable byte at offset {err.start}); re-save it as UTF-8"
        raise SourceError(path, msg) from None
