"""Keep the API pages complete: every public name of fastinfo has a page.

Two views of the same rule:

* :func:`autosummary_names` reads the ``autosummary`` tables of the ``.rst``
  API pages (``tests/docs`` uses it without building anything);
* the Sphinx hook checks, once every page is read, that each public name was
  documented as a Python object ``fastinfo.<name>``, and warns for each one
  that was not (an error under ``sphinx-build -W``).

Public means listed in ``fastinfo.__all__``; submodules are left out (a public
module would be documented by a page of its own).
"""

from __future__ import annotations

import re
import types
from pathlib import Path

_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. autosummary::\s*$")
_OPTION = re.compile(r"^\s*:[\w-]+:")
# Module-level data (``__version__``) is described by hand: autodoc would show
# the docstring of its type.
_DATA = re.compile(r"^\s*\.\. (?:py:)?data:: (?:fastinfo\.)?(?P<name>\w+)\s*$", re.MULTILINE)


def public_names() -> list[str]:
    """Names of ``fastinfo.__all__`` that need a page (everything but submodules)."""
    import fastinfo

    return sorted(name for name in fastinfo.__all__
                  if not isinstance(getattr(fastinfo, name), types.ModuleType))


def autosummary_names(text: str) -> list[str]:
    """The entries of every ``.. autosummary::`` table in reStructuredText ``text``."""
    names = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        i += 1
        if not m:
            continue
        indent = len(m.group("indent"))
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break                       # the directive's body ended
            entry = line.strip()
            if entry and not _OPTION.match(line) and not entry.startswith(".."):
                names.append(entry.split()[0].removeprefix("~").removeprefix("fastinfo."))
            i += 1
    return names


def documented_in_pages(docs_dir: str | Path) -> dict[str, list[str]]:
    """Map each name an API page under ``docs_dir/api`` documents to those pages.

    A name counts when it is an entry of an ``autosummary`` table or, for
    module-level data, the argument of a ``.. data::`` directive.
    """
    found: dict[str, list[str]] = {}
    for page in sorted(Path(docs_dir, "api").glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        for name in autosummary_names(text) + _DATA.findall(text):
            found.setdefault(name, []).append(page.name)
    return found


def _check_documented(app, env):
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    objects = env.get_domain("py").objects
    for name in public_names():
        if f"fastinfo.{name}" not in objects:
            logger.warning("fastinfo.%s is public (fastinfo.__all__) but has no page: "
                           "add it to the autosummary table of its family in docs/api/", name,
                           type="fastinfo", subtype="api")


def setup(app):
    app.connect("env-check-consistency", _check_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
