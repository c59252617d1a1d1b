"""Every public function documents itself the same way, and has a page.

* a numpydoc docstring: a summary line, ``Parameters`` naming every argument,
  ``Returns`` (unless the function returns None) and ``Examples``;
* the examples run as doctests (``NORMALIZE_WHITESPACE | ELLIPSIS``), each in a
  fresh namespace, so they import what they use, as a reader at a prompt would;
* every public name appears in an ``autosummary`` table of ``docs/api/``;
* the text docstrings share is written into them at import (``_args.fill_doc``):
  no ``{name}`` placeholder is left over.

The tests are parametrized by name, so a failure names the function.
"""

import doctest
import importlib.util
import inspect
import re
import types
import warnings
from pathlib import Path

import pytest

import fastinfo

docscrape = pytest.importorskip("numpydoc.docscrape")

DOCS = Path(__file__).resolve().parents[2] / "docs"

PUBLIC = [name for name in fastinfo.__all__
          if not isinstance(getattr(fastinfo, name), types.ModuleType)]
# Public modules imported by name (``from fastinfo import objectives``), documented by a page's
# ``automodule``: their functions follow the same rules, as "module.function".
SUBMODULES = ["objectives"] + (["torch"] if importlib.util.find_spec("torch") else [])


def _get(name):
    if "." in name:
        mod, attr = name.split(".")
        return getattr(importlib.import_module(f"fastinfo.{mod}"), attr)
    return getattr(fastinfo, name)


SUB_FUNCTIONS = [f"{mod}.{n}" for mod in SUBMODULES for n in importlib.import_module(f"fastinfo.{mod}").__all__]
FUNCTIONS = [name for name in PUBLIC if inspect.isfunction(getattr(fastinfo, name))] + SUB_FUNCTIONS
# Classes carry examples too; their sections are numpydoc's class form.
WITH_EXAMPLES = [name for name in PUBLIC
                 if inspect.isfunction(getattr(fastinfo, name)) or inspect.isclass(getattr(fastinfo, name))
                 ] + SUB_FUNCTIONS


def _parse(func):
    """numpydoc's reading of ``func``'s docstring; its warnings (unknown sections) fail."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return docscrape.FunctionDoc(func)


def _documented_parameters(doc):
    names = set()
    for section in ("Parameters", "Other Parameters"):
        for param in doc[section]:
            names.update(part.strip().lstrip("*") for part in param.name.split(","))
    return names


@pytest.mark.parametrize("name", FUNCTIONS)
def test_numpydoc_sections(name):
    func = _get(name)
    doc = _parse(func)
    assert doc["Summary"] and doc["Summary"][0].strip(), f"{name}: no summary line"
    sig = inspect.signature(func)
    problems = []
    if sig.parameters and not doc["Parameters"]:
        problems.append("no Parameters section")
    undocumented = [p for p in sig.parameters if p not in _documented_parameters(doc)]
    if undocumented:
        problems.append(f"parameters not in Parameters: {undocumented}")
    returns_none = sig.return_annotation in (None, "None")
    if not returns_none and not doc["Returns"] and not doc["Yields"]:
        problems.append("no Returns section")
    if not doc["Examples"]:
        problems.append("no Examples section")
    assert not problems, f"fastinfo.{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_examples_run(name):
    obj = _get(name)
    finder = doctest.DocTestFinder(recurse=False)
    tests = [t for t in finder.find(obj, f"fastinfo.{name}", module=False, globs={}) if t.examples]
    assert tests, f"fastinfo.{name}: no example to run"
    report = []
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    failed = sum(runner.run(test, out=report.append).failed for test in tests)
    assert failed == 0, "".join(report)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_placeholder_left(name):
    # a "{name}" left over: the function is missing from its module's fill_doc call
    left = re.findall(r"\{[A-Za-z_]\w*\}", _get(name).__doc__ or "")
    assert not left, f"fastinfo.{name}: docstring placeholders never filled: {left}"


def test_fill_doc_nests_drops_empty_lines_and_rejects_unknown_names():
    from fastinfo import _args

    def f():
        """Summary.

        Parameters
        ----------
        {both}
        {gone}
        {base}
        """

    def g():
        """{missing}"""

    def h():
        pass

    _args.fill_doc({"both": "{one}\n        {two}", "one": "a : int", "two": "b : int", "gone": ""}, [f, h])
    assert f.__doc__.splitlines()[4:7] == ["        a : int", "        b : int", "        base : float, optional"]
    assert "{" not in f.__doc__ and h.__doc__ is None
    with pytest.raises(KeyError, match="missing"):
        _args.fill_doc({}, [g])


def _api_coverage():
    path = DOCS / "_ext" / "api_coverage.py"
    if not path.exists():
        pytest.skip("the docs/ folder is not beside the tests")
    spec = importlib.util.spec_from_file_location("api_coverage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_has_an_api_page():
    pages = _api_coverage().documented_in_pages(DOCS)
    missing = [name for name in PUBLIC if name not in pages]
    assert not missing, f"public names in no autosummary table of docs/api/: {missing}"


@pytest.mark.parametrize("module", SUBMODULES)
def test_every_public_module_has_an_api_page(module):
    pages = [p.name for p in sorted((DOCS / "api").glob("*.rst"))
             if f".. automodule:: fastinfo.{module}\n" in p.read_text(encoding="utf-8")]
    if not (DOCS / "api").exists():
        pytest.skip("the docs/ folder is not beside the tests")
    assert len(pages) == 1, f"fastinfo.{module}: an automodule directive on one API page, found {pages}"


def test_api_pages_name_only_public_names_each_once():
    pages = _api_coverage().documented_in_pages(DOCS)
    unknown = sorted(name for name in pages if name not in PUBLIC)
    twice = {name: where for name, where in pages.items() if len(where) > 1}
    assert not unknown, f"docs/api/ documents names that are not public: {unknown}"
    assert not twice, f"names on more than one API page: {twice}"


def test_autosummary_parser_reads_entries_and_skips_options():
    text = """
Title
=====

.. autosummary::
   :toctree: generated
   :nosignatures:

   entropy
   ~fastinfo.kl_divergence

Some prose after the table, not an entry.

.. data:: __version__

   The version.
"""
    module = _api_coverage()
    assert module.autosummary_names(text) == ["entropy", "kl_divergence"]
