"""Sphinx configuration of fastinfo's documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` after
installing the package with its ``docs`` extra: autodoc imports the *installed*
fastinfo (the source folder has no compiled kernels), and nothing here reaches
the network.
"""

import os
import sys

import fastinfo

# The local extension that fails the build when a public name has no page.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

project = "fastinfo"
author = "the fastinfo developers"
copyright = "the fastinfo developers"
version = release = fastinfo.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "api_coverage",
]

exclude_patterns = ["_build"]
root_doc = "index"

# One stub page per public name, written next to the API pages (api/generated/).
autosummary_generate = True
autosummary_imported_members = True
# Signatures without annotations: the types are in each Parameters section.
autodoc_typehints = "none"

# numpydoc renders the Parameters/Returns/Examples sections. Class members are
# not listed: fastinfo's only public class is a named tuple of arrays.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Structure is checked by tests/docs/test_docstrings.py, not by the build.
numpydoc_validation_checks = set()

# No intersphinx: the build must not need the network.

default_role = "code"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = f"fastinfo {release}"
html_theme_options = {
    "description": "Fast, exact information-theoretic measures over batches",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_static_path = []
html_show_sourcelink = False
