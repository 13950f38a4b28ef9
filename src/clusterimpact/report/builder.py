"""A small, self-contained HTML/Markdown report builder.

Figures are embedded as base64 PNG so a report is one file that opens
anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from clusterimpact.results.export import frame_to_markdown

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #1f77b4;padding-bottom:.2em}h2{margin-top:2em;color:#1f4e79}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}
th{background:#f3f6fa}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.85em;color:#555}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em;margin:1em 0}
.meta{color:#555;font-size:.9em}
"""


def figure_to_base64(fig: Any) -> str:
    """PNG bytes of a matplotlib figure (or Axes) as a base64 string.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> figure_to_base64(fig)[:8]
    'iVBORw0K'
    """
    import matplotlib.pyplot as plt

    figure = fig.get_figure() if hasattr(fig, "get_figure") and fig.get_figure() else fig
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class Report:
    """An evaluation report assembled section by section.

    Examples
    --------
    >>> import pandas as pd
    >>> rep = Report("Demo")
    >>> rep.section("Design", "Who is treated when.")
    >>> rep.table(pd.DataFrame({"a": [1]}))
    >>> "<h2>Design</h2>" in rep.to_html()
    True
    """

    title: str
    subtitle: str = ""
    _html: list[str] = field(default_factory=list)
    _md: list[str] = field(default_factory=list)
    figures: int = 0

    def part(self, heading: str, text: str = "") -> None:
        """Start a part (a top-level division holding several sections)."""
        self._html.append(f"<h1 class='part'>{html.escape(heading)}</h1>")
        self._md.append(f"\n# {heading}\n")
        if text:
            self.text(text)

    def section(self, heading: str, text: str = "") -> None:
        """Start a section with a heading and an optional paragraph."""
        self._html.append(f"<h2>{html.escape(heading)}</h2>")
        self._md.append(f"\n## {heading}\n")
        if text:
            self.text(text)

    def text(self, text: str) -> None:
        """Add a paragraph."""
        self._html.append(f"<p>{html.escape(text)}</p>")
        self._md.append(text + "\n")

    def note(self, text: str) -> None:
        """Add a highlighted note (warnings, data-quality remarks)."""
        self._html.append(f"<div class='note'>{html.escape(text)}</div>")
        self._md.append(f"> {text}\n")

    def table(self, frame: pd.DataFrame, caption: str = "", digits: int = 4) -> None:
        """Add a table (numbers rounded to ``digits``)."""
        shown = frame.copy()
        num = shown.select_dtypes("number").columns
        shown[num] = shown[num].round(digits)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        body = shown.to_html(index=False, border=0, na_rep="")
        self._html.append(body.replace("<thead>", cap + "<thead>", 1))
        if caption:
            self._md.append(f"*{caption}*\n")
        self._md.append(frame_to_markdown(shown) + "\n")

    def figure(self, fig: Any, caption: str = "") -> None:
        """Embed a matplotlib figure (or Axes) as a PNG."""
        data = figure_to_base64(fig)
        self.figures += 1
        alt = html.escape(caption or f"Figure {self.figures}")
        self._html.append(
            f"<figure><img class='ci-figure' alt='{alt}' src='data:image/png;base64,{data}'/>"
            f"<figcaption>{alt}</figcaption></figure>"
        )
        self._md.append(f"*[Figure {self.figures}: {caption}]*\n")

    def to_html(self) -> str:
        """The whole report as one self-contained HTML document."""
        sub = f"<p class='meta'>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{sub}{''.join(self._html)}</body></html>"
        )

    def to_markdown(self) -> str:
        """The report as Markdown (figures referenced by caption)."""
        head = f"# {self.title}\n\n{self.subtitle}\n" if self.subtitle else f"# {self.title}\n"
        return head + "\n".join(self._md)

    def write(self, folder: str | Path, stem: str = "report") -> Path:
        """Write ``report.html`` and ``report.md`` into ``folder``; return the HTML path."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{stem}.html"
        path.write_text(self.to_html(), encoding="utf-8")
        (out / f"{stem}.md").write_text(self.to_markdown(), encoding="utf-8")
        return path
