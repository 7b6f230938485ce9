"""The report as a PDF (`report.pdf`): report.html's page typeset for A4 by WeasyPrint.

The PDF is the HTML page (`document.to_html`: figures embedded from inside the results folder
as data: URIs) plus a print style sheet: A4 pages with numbers "3 / 12", tables and figures
kept whole where they fit, headings kept with what follows, long text cells wrapping, and
images at 170 dpi so a 1200-pixel-wide figure spans the text width (as in report.html and
report.tex). The contents list's links and the headings' PDF bookmarks come from the HTML.

Nothing outside the page is fetched: the URL fetcher accepts only `data:` URIs, so a
stray `<img src="file:…">` or `http:` link could not pull a file into the PDF.

WeasyPrint needs Pango (libpango-1.0-0, libpangoft2-1.0-0): `available()` says, in one
line, what is missing and how to install it.
"""

from __future__ import annotations

import logging
import re

from scratchlab.errors import ScratchlabError

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666 } }
html { font-size: 9.5pt }
body { max-width: none; margin: 0; padding: 0; line-height: 1.35 }
h1 { font-size: 17pt; margin-top: 0 }
h2 { font-size: 13.5pt; margin-top: 1.4em }
h3 { font-size: 11pt; margin-top: 1.2em }
h1, h2, h3, h4 { break-after: avoid }
nav.toc { break-inside: avoid }
nav.toc ol ol { columns: 2 }
a { color: inherit; text-decoration: none }
.scroll { overflow: visible }
table { font-size: 7.6pt; margin: .4em 0 }
th, td { padding: .15em .35em; white-space: normal }
td.l:not(:first-child) { min-width: 0 }
.tbl, figure, pre { break-inside: avoid }
tr { break-inside: avoid }
figure img { image-resolution: 170dpi; max-width: 100%; max-height: 118mm }
pre { white-space: pre-wrap; font-size: 7.5pt }
"""

INSTALL_HINT = (
    "pip install weasyprint (in scratchlab's environment) and, for its system libraries, "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 (Debian/Ubuntu) or brew install pango "
    "(macOS); or use --format html and print that page to PDF"
)


def _weasyprint():
    """The weasyprint module, or one ScratchlabError line saying what to install."""
    try:
        import weasyprint
    except ImportError:
        raise ScratchlabError(
            "PDF output needs WeasyPrint, which is not installed: " + INSTALL_HINT
        ) from None
    except OSError as exc:  # cffi could not load Pango/GObject
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScratchlabError(
            f"PDF output needs the Pango library, which WeasyPrint cannot load ({reason}): "
            + INSTALL_HINT
        ) from None
    return weasyprint


def available() -> None:
    """Raise one ScratchlabError line unless PDF output can be made here."""
    _weasyprint()


def to_pdf(page_html: str) -> bytes:
    """The PDF bytes of a report.html page (`document.to_html`)."""
    weasyprint = _weasyprint()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # CSS it ignores (overflow-x …)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    try:
        document = weasyprint.HTML(
            string=_with_print_css(page_html), url_fetcher=_fetcher(weasyprint)
        )
        return document.write_pdf()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ScratchlabError(
            f"WeasyPrint could not typeset the report as PDF ({type(exc).__name__}: {exc}); "
            "report.html holds the same content"
        ) from None


def _with_print_css(page_html: str) -> str:
    """The page with `PRINT_CSS` after its own style sheet (so it wins where both set a
    property: WeasyPrint's `stylesheets=` would be user sheets, weaker than the page's), and
    no line break inside "39.0 %" or "[36.0, 42.1]" (table cells on A4 wrap)."""
    head, sep, rest = page_html.partition("</head>")
    if not sep:
        raise ScratchlabError("the report page has no <head>: cannot typeset it as PDF")
    rest = _UNIT.sub("\\1\u00a0%", rest)
    rest = _INTERVAL.sub("[\\1,\u00a0\\2]", rest)
    return f"{head}<style>{PRINT_CSS}</style>{sep}{rest}"


_UNIT = re.compile(r"(\d) %")
_INTERVAL = re.compile(r"\[([^\]\s<>,]+), ([^\]\s<>,]+)\]")


def _fetcher(weasyprint):
    """A URL fetcher that serves `data:` URIs only (the report's embedded figures)."""
    urls = weasyprint.urls
    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 66
        return urls.URLFetcher(allowed_protocols={"data"})

    def fetch(url: str, *args, **kwargs):  # older WeasyPrint: a plain function
        if not url.startswith("data:"):
            raise ValueError(f"the report's PDF fetches nothing but data: URIs, not {url[:60]}")
        return weasyprint.default_url_fetcher(url, *args, **kwargs)

    return fetch
