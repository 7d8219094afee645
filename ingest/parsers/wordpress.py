"""WordPress REST API posts (`/wp-json/wp/v2/posts`): one post object or a list of them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from assistant.models import Blueprint, RoleCoverage
from ingest.errors import SourceError
from ingest.parsers.article import article_sections, load_html
from ingest.parsers.common import clean, make_blueprint, parse_timestamp

_EXPECTED = "expected the JSON of /wp-json/wp/v2/posts/<id> or a list of such posts"


class _Rendered(BaseModel):
    rendered: str = ""


class _Post(BaseModel):
    """The fields of a post this parser reads; the REST API sends many more."""

    title: _Rendered
    content: _Rendered
    link: str = ""
    modified_gmt: str | None = None
    modified: str | None = None


def parse_wordpress(data: object, path: Path) -> list[Blueprint]:
    """One full blueprint per post.

    Raises:
        SourceError: the JSON is not a post or a list of posts, or a post is not a blueprint.
    """
    posts = data if isinstance(data, list) else [data]
    if not posts:
        raise SourceError(path, f"the list of posts is empty; {_EXPECTED}")
    labelled = len(posts) > 1
    return [
        _blueprint(post, f"post {n}" if labelled else "", path)
        for n, post in enumerate(posts, start=1)
    ]


def _blueprint(data: object, label: str, path: Path) -> Blueprint:
    """The blueprint of one post; `label` names the post in errors when the file has several."""
    try:
        post = _Post.model_validate(data)
    except ValidationError:
        raise SourceError(path, f"{_describe(data, label)}; {_EXPECTED}") from None
    name = label or "the post"
    title = clean(load_html(post.title.rendered).get_text())
    sections = article_sections(load_html(post.content.rendered))
    if not sections:
        msg = (
            f"{name} ({title or 'untitled'}) is not a blueprint: its content has no numbered or "
            "known section headings; export a role blueprint post"
        )
        raise SourceError(path, msg)
    if not title:
        raise SourceError(path, f"{name} has no title; give the post the role's name as title")
    return make_blueprint(
        title,
        sections,
        coverage=RoleCoverage.FULL,
        source=str(path),
        url=post.link,
        # The GMT field is UTC; the other is the site's local time, better than nothing.
        modified=parse_timestamp(post.modified_gmt) or parse_timestamp(post.modified),
    )


def _describe(data: object, label: str) -> str:
    """Why some JSON is not a post, quoting the REST API's own error when it sent one."""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return f"JSON is a WordPress error, not a post ({data.get('code')}: {data['message']})"
    what = label or "the JSON"
    return f"{what} is not a WordPress post (it needs title.rendered and content.rendered)"
