"""Fixtures of the integration tests: servers on loopback standing in for remote services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.wordpress_stub import WordPressStub


@pytest.fixture
def wordpress_site() -> Iterator[WordPressStub]:
    """A WordPress site on loopback: the bundled post and 6 generated blueprints."""
    with WordPressStub(generated=6) as site:
        yield site
