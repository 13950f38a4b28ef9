"""Render tidy tables as Markdown and LaTeX without extra dependencies."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return str(value)


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (numbers right-aligned).

    Examples
    --------
    >>> import pandas as pd
    >>> print(frame_to_markdown(pd.DataFrame({"a": [1.5], "b": ["x"]})))
    | a | b |
    | ---: | :--- |
    | 1.5 | x |
    """
    cols = [str(c) for c in frame.columns]
    align = [
        "---:" if pd.api.types.is_numeric_dtype(frame[c]) else ":---" for c in frame.columns
    ]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join(align) + " |"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


_LATEX_ESCAPE = str.maketrans({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                               "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"})


def frame_to_latex(frame: pd.DataFrame, caption: str | None = None) -> str:
    """A DataFrame as a booktabs LaTeX table (special characters escaped).

    Examples
    --------
    >>> import pandas as pd
    >>> print(frame_to_latex(pd.DataFrame({"std_error": [0.5]})).splitlines()[4])
    std\\_error \\\\
    """
    spec = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    header = " & ".join(str(c).translate(_LATEX_ESCAPE) for c in frame.columns) + r" \\"
    out = [r"\begin{table}[htbp]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           header]
    out.append(r"\midrule")
    for row in frame.itertuples(index=False):
        out.append(" & ".join(_fmt(v).translate(_LATEX_ESCAPE) for v in row) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        out.append(rf"\caption{{{caption.translate(_LATEX_ESCAPE)}}}")
    out.append(r"\end{table}")
    return "\n".join(out)
