"""Griffe extension for the docs build: reST roles in docstrings become Markdown code.

The docstrings cite names Sphinx-style (:func:`lorth`, :class:`~jaxorth.orthconv.OrthConv`),
end paragraphs before literal blocks with ``::`` and write some formulas as ``.. math::``
directives. mkdocstrings renders Markdown, so this extension rewrites each role to a code
span of the name (``~`` keeps the last component, as Sphinx shows it), ``::`` to ``:``
and a formula to a code block before the docstring is parsed.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::[ \t]*$", re.MULTILINE)
_BARE_LITERAL = re.compile(r"^([ \t]*)::[ \t]*$", re.MULTILINE)
_MATH_LINE = re.compile(r"^([ \t]*)\.\. math::[ \t]*(\S.*)$", re.MULTILINE)
_MATH_BLOCK = re.compile(r"^[ \t]*\.\. math::[ \t]*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    tilde, name = match.groups()
    name = name.strip()
    if tilde:
        name = name.rsplit(".", 1)[-1]
    return f"``{name}``"


def rewrite(text: str) -> str:
    """The docstring ``text`` with reST roles and ``::`` markers turned into Markdown."""
    # ``.. math::`` directives: their TeX shown as a code block (no MathJax in the site)
    text = _MATH_LINE.sub(lambda m: f"\n{m.group(1)}    {m.group(2)}\n", text)
    text = _MATH_BLOCK.sub("", text)
    text = _ROLE.sub(_role, text)
    text = _MATH.sub(lambda m: f"``{m.group(1)}``", text)
    text = _BARE_LITERAL.sub("", text)
    return _LITERAL.sub(":", text)


class ReSTRoles(griffe.Extension):
    """Rewrite reST roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)


class CommentDocs(griffe.Extension):
    """Give module attributes the ``#:`` comment lines above them as their docstring.

    The house style documents constants and type aliases Sphinx-style, with ``#:``
    comments just above the assignment; griffe reads only string docstrings.
    """

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if not obj.is_attribute or obj.docstring is not None or obj.lineno is None:
            return
        if not obj.parent or not obj.parent.is_module or obj.filepath is None:
            return
        lines = obj.lines_collection[obj.filepath]
        comment: list[str] = []
        i = obj.lineno - 2  # the line above, 0-based
        while i >= 0 and lines[i].lstrip().startswith("#:"):
            comment.insert(0, lines[i].lstrip()[2:].strip())
            i -= 1
        if comment:
            text = rewrite(" ".join(comment))
            obj.docstring = griffe.Docstring(text, lineno=obj.lineno, parent=obj)
