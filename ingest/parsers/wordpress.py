"""WordPress REST API posts (`/wp-json/wp/v2/posts`): one post object or a list of them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from assistant.models import Blueprint, RoleCoverage
from ingest.errors import SourceError
from ingest.parsers.article import article_sections, load_html
from ingest.parsers.common import ParsedSource, clean, make_blueprint, parse_timestamp, shorten

_EXPECTED = "expected the JSON of /wp-json/wp/v2/posts/<id> or a list of such posts"
# How many of a list's broken posts an error names before it says how many more there are.
_NAMED_PROBLEMS = 3


class _Rendered(BaseModel):
    rendered: str = ""


class _Post(BaseModel):
    """The fields of a post this parser reads; the REST API sends many more."""

    id: int | None = None
    title: _Rendered
    content: _Rendered
    link: str = ""
    modified_gmt: str | None = None
    modified: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _positive_int_or_none(cls, value: object) -> object:
        # The id is identity, not content: a malformed one is dropped rather than fatal.
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return None


def parse_wordpress(data: object, path: Path) -> ParsedSource:
    """One full blueprint per post; in a list, a broken post is a problem, not a failure.

    Raises:
        SourceError: the JSON is not a post or a list of posts, or no post of it is a
            blueprint.
    """
    if not isinstance(data, list):
        return ParsedSource([parse_wordpress_post(data, source=str(path))])
    if not data:
        raise SourceError(path, f"the list of posts is empty; {_EXPECTED}")
    if len(data) == 1:
        return ParsedSource([parse_wordpress_post(data[0], source=str(path))])
    blueprints: list[Blueprint] = []
    problems: list[SourceError] = []
    for position, post in enumerate(data, start=1):
        try:
            blueprints.append(_blueprint(post, str(path), "", position))
        except SourceError as exc:
            problems.append(exc)
    if not blueprints:
        named = "; ".join(problem.problem for problem in problems[:_NAMED_PROBLEMS])
        more = len(problems) - _NAMED_PROBLEMS
        named += f"; and {more} more" if more > 0 else ""
        raise SourceError(path, f"none of its {len(data)} posts is a blueprint: {named}")
    return ParsedSource(blueprints, problems)


def parse_wordpress_post(data: object, *, source: str, origin: str = "") -> Blueprint:
    """The full blueprint of one post (a decoded `/wp-json/wp/v2/posts/<id>` object).

    Args:
        data: The post, as decoded from JSON.
        source: Where the post came from, as errors and citations name it (a file, a URL).
        origin: The site the post was synced from; with the post's `id`, it is the
            blueprint's identity (`Blueprint.doc_id`). Empty for posts read from files.

    Raises:
        SourceError: the post is not a WordPress post, has no title, or is not a blueprint.
    """
    return _blueprint(data, source, origin, None)


def _blueprint(data: object, source: str, origin: str, position: int | None) -> Blueprint:
    """The blueprint of one post; `position` is its place in a list of posts, if any."""
    try:
        post = _Post.model_validate(data)
    except ValidationError:
        raise SourceError(source, f"{_describe(data, position)}; {_EXPECTED}") from None
    name = _name(data, position)
    title = clean(load_html(post.title.rendered).get_text())
    sections = article_sections(load_html(post.content.rendered))
    if not sections:
        msg = (
            f"{name} is not a blueprint: its content has no numbered or known section "
            "headings; export a role blueprint post"
        )
        raise SourceError(source, msg)
    if not title:
        raise SourceError(source, f"{name} has no title; give the post the role's name as title")
    return make_blueprint(
        title,
        sections,
        coverage=RoleCoverage.FULL,
        source=source,
        url=post.link,
        # The GMT field is UTC; the other is the site's local time, better than nothing.
        modified=parse_timestamp(post.modified_gmt) or parse_timestamp(post.modified),
        post_id=post.id,
        origin=origin,
        name=name,
    )


def _name(data: object, position: int | None, whole: str = "the post") -> str:
    """How errors name a post: `post 2 (id 17, Hello world!)`, or `whole` when it is alone."""
    what = f"post {position}" if position is not None else whole
    if not isinstance(data, dict):
        return what
    details: list[str] = []
    post_id = data.get("id")
    if isinstance(post_id, int | str) and not isinstance(post_id, bool) and str(post_id):
        details.append(f"id {shorten(str(post_id), 20)}")
    title = data.get("title")
    rendered = title.get("rendered") if isinstance(title, dict) else None
    if isinstance(rendered, str) and (text := shorten(load_html(rendered).get_text())):
        details.append(text)
    return f"{what} ({', '.join(details)})" if details else what


def _describe(data: object, position: int | None) -> str:
    """Why some JSON is not a post, quoting the REST API's own error when it sent one."""
    name = _name(data, position, whole="the JSON")
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        error = f"{shorten(str(data.get('code')), 80)}: {shorten(data['message'], 200)}"
        return f"{name} is a WordPress error, not a post ({error})"
    return f"{name} is not a WordPress post (it needs title.rendered and content.rendered)"
