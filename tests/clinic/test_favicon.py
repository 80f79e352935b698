"""Every page names the clinic's icon, and the icon is served (issue 16, item 18: without one the
browser asks for /favicon.ico on every page and logs a 404 in the console)."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.helpers import log_in

ICON_LINKS = re.compile(r"""<link rel="icon"[^>]*href="([^"]+)"[^>]*>""")


def served(path: str):
    # WhiteNoise reads its settings when the middleware is built: a new client builds a new one.
    # Finders stand in for collectstatic's STATIC_ROOT; the root folder is served either way.
    with override_settings(WHITENOISE_USE_FINDERS=True):
        return Client().get(path)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["account_login", "home"])
def test_every_base_template_links_the_icon_and_it_is_served(client, psychiatrist, page):
    if page == "home":
        log_in(client, psychiatrist)
    response = client.get(reverse(page), follow=True)

    links = ICON_LINKS.findall(response.content.decode())

    assert links == ["/favicon.ico", "/static/favicon.svg"]
    responses = [served(link) for link in links]
    assert [r.status_code for r in responses] == [200, 200]
    assert [r["Content-Type"] for r in responses] == ["image/x-icon", "image/svg+xml"]
    assert b"".join(b"".join(r.streaming_content) for r in responses[:1]).startswith(b"\0\0\1\0")


def test_the_error_page_that_renders_without_context_links_it_too():
    from django.template import loader

    page = loader.get_template("500.html").render()

    assert ICON_LINKS.findall(page) == ["/favicon.ico", "/static/favicon.svg"]
