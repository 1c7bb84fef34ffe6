"""The house style of sgdlab's HTML pages: one self-contained file, figures embedded as PNG, tables with
numbers to four digits."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin-top: 1.2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 0.8em; } .figures img { width: 100%; }
.wide-figures img { width: 100%; margin-bottom: 0.8em; }
.note { color: #666; font-size: 0.85em; } img { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; } .scroll > table { width: max-content; } td { max-width: 26em; }
@media (max-width: 700px) { body { margin: 0.5em auto; } .figures { grid-template-columns: 1fr; } }
"""


def html_page(title: str, sections: list[str]) -> str:
    """A self-contained page of the house style around ``sections`` (HTML fragments)."""
    body = "\n".join(sections)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def figure_png(figure) -> str:
    """A matplotlib figure as base64 PNG, for an <img src="data:image/png;base64,…">."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def html_table(frame: pd.DataFrame, escape: bool = True) -> str:
    """A table of the house style (numbers to four digits, ∞ and — for missing); ``escape=False`` for cells that
    are HTML already (escaped by the caller)."""
    table = frame.to_html(index=False, na_rep="—", float_format=number, escape=escape, border=0)
    return f"<div class='scroll'>{table}</div>"


def key_values(rows: list[tuple[str, str]]) -> str:
    """Rows of (name, value) as a two-column table, names as headers."""
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<div class='scroll'><table>{cells}</table></div>"


def number(value) -> str:
    if isinstance(value, float):
        return "∞" if value == float("inf") else f"{value:.4g}"
    return str(value)
