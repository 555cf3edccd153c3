"""`casegraph report group NAME --out FILE.html|.pdf`: the group report, recorded as a dissemination."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from casegraph.cli.common import emit, fail, opened, out
from casegraph.cli.groups import command_group

report_app = command_group(
    help="Reports to hand over (each one is recorded as a dissemination).", no_args_is_help=True
)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def group(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group id or name."),
    out_file: Path = typer.Option(
        ..., "--out", "-o", help="FILE.html, or FILE.pdf (printed by headless Chromium)."
    ),
    recipient: str = typer.Option(
        ..., "--recipient", prompt=True, help="Who receives it (person, unit, agency)."
    ),
    purpose: str = typer.Option(..., "--purpose", prompt=True, help="Need and right to know."),
) -> None:
    """Activity, linked incidents and series, members with criteria and evidence, ties, a map, the alerts."""
    from casegraph.api.report import build_report

    if out_file.suffix.lower() not in {".html", ".htm", ".pdf"}:
        fail("--out must end in .html or .pdf")
    with opened(ctx, purpose=purpose) as (g, _settings):  # the configured user's guarded session
        html = build_report(g, name, recipient=recipient, purpose=purpose, file=str(out_file))
    _write(html, out_file)
    emit(
        ctx,
        {"group": name, "file": str(out_file), "recipient": recipient},
        lambda d: out.print(
            f"report on {d['group']} for {d['recipient']} -> {d['file']} (dissemination recorded)"
        ),
    )


def _write(html: str, out_file: Path) -> None:
    if out_file.suffix.lower() != ".pdf":
        out_file.write_text(html, encoding="utf-8")
        return
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), "")
    if not browser:
        fail(
            "a PDF is printed by headless Chromium, which is not installed (apt-get install chromium); "
            "write .html and print it from a browser instead"
        )
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        cmd = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out_file.resolve()}",
            page.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)  # noqa: S603 (fixed argv)
    if done.returncode != 0 or not out_file.exists():
        fail(f"Chromium could not print the PDF: {done.stderr.decode(errors='replace')[-400:]}")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    report_app.command("group")(group)
    app.add_typer(report_app, name="report")
