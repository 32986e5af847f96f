"""HTML → PDF through wkhtmltopdf, hardened, plus HTML templates with escaping.

Documents are rendered from Tornado templates (``reports/templates``) whose autoescape is on, so
every value a tenant typed (company name, requisites, comments, numbers) is HTML-escaped: an
``<img src="http://…">`` in a company name prints as text. On top of that, wkhtmltopdf runs
so that it *cannot* load anything even if markup got through:

* ``--disable-local-file-access`` and no ``--allow``: no ``file://`` reads (``/etc/passwd`` …);
* ``--proxy http://127.0.0.1:<port>`` where ``<port>`` is a loopback socket we bind and do not
  listen on for the duration of the run: every http/https load (including to localhost) is
  refused at once — there is no network from the renderer;
* ``--disable-javascript``; a scrubbed environment (no proxy variables, private HOME/XDG dir);
* a hard timeout (the process is killed) and output checked to be a PDF.

Fonts are installed system fonts (DejaVu, which covers Cyrillic), named in inline CSS; no web
fonts or external stylesheets. pdfkit builds the command line (and finds the binary); we run it
ourselves with ``subprocess.run`` to get the timeout and the environment control pdfkit lacks.

Large documents (call detail with 100 000 rows) are rendered as chunks in parallel processes and
merged with pypdf: :func:`html_chunks_to_pdf`.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import pdfkit
from tornado import template

log = logging.getLogger("pult.reports.pdf")

TEMPLATES = Path(__file__).parent / "templates"
_loader = template.Loader(str(TEMPLATES), autoescape="xhtml_escape", whitespace="oneline")

DEFAULT_TIMEOUT = 120.0

BASE_OPTIONS: dict[str, Any] = {
    "quiet": "",
    "encoding": "UTF-8",
    "page-size": "A4",
    "margin-top": "12mm",
    "margin-bottom": "12mm",
    "margin-left": "12mm",
    "margin-right": "12mm",
    "disable-local-file-access": "",
    "disable-javascript": "",
    "disable-plugins": "",
}


class PdfError(RuntimeError):
    """wkhtmltopdf failed, timed out or produced something that is not a PDF."""


def render_html(name: str, **values: Any) -> str:
    """Render ``reports/templates/<name>`` with autoescaping (user data is always escaped)."""
    return _loader.load(name).generate(**values).decode("utf-8")


def render_string(source: str, **values: Any) -> str:
    """Render an inline Tornado template with autoescaping (tests, one-off documents)."""
    return template.Template(source, autoescape="xhtml_escape").generate(**values).decode("utf-8")


def wkhtmltopdf_binary() -> str:
    path = shutil.which("wkhtmltopdf")
    if not path:
        raise PdfError("wkhtmltopdf is not installed (apt-get install wkhtmltopdf)")
    return path


def _dead_proxy() -> socket.socket:
    """A loopback socket that is bound but not listening: connections to it are refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


def html_to_pdf(html: str, *, timeout: float = DEFAULT_TIMEOUT, landscape: bool = False,
                options: dict[str, Any] | None = None, strict: bool = False) -> bytes:
    """Convert a complete HTML document to PDF bytes with the hardening described above.

    A resource load that the sandbox refused makes wkhtmltopdf exit with code 1 although the
    PDF is complete; that is logged and the PDF returned, or raised when ``strict`` is set.
    """
    opts = dict(BASE_OPTIONS)
    if landscape:
        opts["orientation"] = "Landscape"
    for key, value in (options or {}).items():
        if key in ("enable-local-file-access", "allow", "enable-javascript", "proxy"):
            raise PdfError(f"option --{key} would weaken the PDF sandbox")
        opts[key] = value
    dead = _dead_proxy()
    opts["proxy"] = f"http://127.0.0.1:{dead.getsockname()[1]}"
    with tempfile.TemporaryDirectory(prefix="pult-pdf-") as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "XDG_RUNTIME_DIR": tmp,
               "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen", "TMPDIR": tmp}
        conf = pdfkit.configuration(wkhtmltopdf=wkhtmltopdf_binary())
        args = list(pdfkit.PDFKit(html, "string", options=opts, configuration=conf).command())
        try:
            proc = subprocess.run(args, input=html.encode("utf-8"), capture_output=True, env=env,
                                  cwd=tmp, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"wkhtmltopdf did not finish within {timeout:g} s (killed)") from None
        finally:
            dead.close()
    out, err = proc.stdout, proc.stderr.decode("utf-8", "replace")
    if not out.startswith(b"%PDF"):
        raise PdfError(f"wkhtmltopdf failed (exit {proc.returncode}): {err.strip()[-500:]}")
    if proc.returncode != 0:
        if "network error" in err and not strict:
            log.warning("PDF rendered with blocked resource loads: %s", err.strip()[-300:])
        else:
            raise PdfError(f"wkhtmltopdf exit {proc.returncode}: {err.strip()[-500:]}")
    return out


def merge_pdfs(parts: Iterable[bytes]) -> bytes:
    """Concatenate PDFs (in order) with pypdf."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def html_chunks_to_pdf(chunks: Iterable[str], *, workers: int | None = None, landscape: bool = False,
                       timeout: float = DEFAULT_TIMEOUT, options: dict[str, Any] | None = None) -> bytes:
    """Render several HTML documents in parallel wkhtmltopdf processes and merge them in order.

    ``chunks`` may be a generator: at most ``workers`` chunks are rendered at a time (threads only
    wait on the child processes), which bounds memory for very large documents.
    """
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    results: list[bytes] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = []
        for chunk in chunks:
            pending.append(pool.submit(html_to_pdf, chunk, landscape=landscape, timeout=timeout,
                                       options=options))
            if len(pending) >= workers:
                results.append(pending.pop(0).result())
        results.extend(f.result() for f in pending)
    return results[0] if len(results) == 1 else merge_pdfs(results)
