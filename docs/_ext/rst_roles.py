"""Griffe extension: render the reStructuredText bits of clusterimpact's numpydoc docstrings.

The package's docstrings are numpydoc with Sphinx roles (``:math:`x```, ``.. math::``,
``:func:`~clusterimpact.att_gt```). mkdocstrings renders Markdown, so this extension
rewrites them before rendering: math to ``$...$`` / ``$$...$$`` (MathJax through
``pymdownx.arithmatex``), cross-reference roles to inline code. Docstrings in the
source are not touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc|ref):`~?([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")


def _short(target: str) -> str:
    target = target.split("<")[-1].rstrip(">").strip()
    return target


def _role(match: re.Match[str]) -> str:
    text = match.group(0)
    target = _short(match.group(1))
    if "`~" in text:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _display_math(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)\.\. math::\s*(.*)$", line)
        if not m:
            out.append(line)
            i += 1
            continue
        indent, first = m.group(1), m.group(2)
        body = [first] if first.strip() else []
        i += 1
        while i < len(lines):
            nxt = lines[i]
            if nxt.strip() == "":
                # a blank line ends the block unless more indented math follows
                j = i + 1
                if j < len(lines) and len(lines[j]) - len(lines[j].lstrip()) > len(indent) \
                        and lines[j].strip():
                    body.append("")
                    i += 1
                    continue
                break
            if len(nxt) - len(nxt.lstrip()) <= len(indent):
                break
            body.append(nxt.strip())
            i += 1
        # several equations separated by blank lines become one aligned block
        eqs = [" ".join(chunk.split("\n")) for chunk in "\n".join(body).split("\n\n") if chunk.strip()]
        math = " \\\\\n".join(eqs)
        if len(eqs) > 1:
            math = "\\begin{gathered}\n" + math + "\n\\end{gathered}"
        out.extend(["", f"{indent}$$", f"{indent}{math}", f"{indent}$$", ""])
    return "\n".join(out)


def rewrite(text: str) -> str:
    """Rewrite Sphinx math and cross-reference roles to Markdown."""
    text = _display_math(text)
    text = _MATH.sub(lambda m: "$" + m.group(1) + "$", text)
    return _ROLE.sub(_role, text)


class RstRoles(griffe.Extension):
    """Rewrite docstrings as they are loaded.

    Also gives a sub-folder that holds Python modules but no ``__init__.py`` (such as
    ``clusterimpact/estimators/``, which Python imports as a namespace sub-package) an
    empty module, so that griffe loads the modules inside it instead of skipping them.
    """

    def on_module_members(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        path = mod.filepath
        if not isinstance(path, Path) or path.name != "__init__.py":
            return
        for sub in sorted(path.parent.iterdir()):
            if (sub.is_dir() and not (sub / "__init__.py").exists() and sub.name.isidentifier()
                    and any(sub.glob("*.py")) and sub.name not in mod.members):
                mod.set_member(sub.name, griffe.Module(sub.name, filepath=sub / "__init__.py"))

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
