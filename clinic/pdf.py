"""PDFs rendered on the server from our own HTML (WeasyPrint), on request only.

The page's stylesheets are read from our static files and handed to WeasyPrint as text, and the
fetcher allows ``data:`` URLs only: rendering a patient's document never reaches the network or
reads another file, whatever the HTML names (an address typed into a free-text field cannot make
the server fetch it). The PDF is built in memory and returned to the person who asked; it is
never attached to an email or cached, and stored only in one case: the patient's own record,
prepared by a worker and kept privately until its download link expires (records.requests).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.staticfiles import finders

# WeasyPrint (with Pango, fontTools and their parsers) adds about 26 MB to a process: the web
# processes import it on the first PDF they render, not at start-up (docs/performance.md, RSS).
if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.urls import URLFetcher

PDF_CONTENT_TYPE = "application/pdf"
# The print stylesheet the print views link to (templates/print/base.html) and PDFs use.
PRINT_CSS = "css/print.css"


@functools.cache
def _stylesheet(static_path: str) -> CSS:
    from weasyprint import CSS

    found = finders.find(static_path)
    if not found:
        raise FileNotFoundError(static_path)
    return CSS(string=Path(found).read_text(encoding="utf-8"), url_fetcher=_fetcher())


def _fetcher() -> URLFetcher:
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=["data"], allow_redirects=False)


def render(html: str, *, title: str, stylesheets: tuple[str, ...] = (PRINT_CSS,)) -> bytes:
    from weasyprint import HTML

    document = HTML(string=html, url_fetcher=_fetcher(), media_type="print").render(
        stylesheets=[_stylesheet(path) for path in stylesheets]
    )
    document.metadata.title = title
    return document.write_pdf()
