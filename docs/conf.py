# Sphinx configuration of the documentation site, used by tools/build_docs.py (`make docs`) where Quarto is absent.
# The sources are nbdev-processed copies of the notebooks in nbs/ (build/docs/src); nothing is executed here.
import os, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_proj = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']

project = os.environ.get('DOCS_TITLE') or _proj['name']
html_title = project
copyright = 'greater_nb developers (Apache-2.0)'
extensions = ['myst_nb']
exclude_patterns = ['**.ipynb_checkpoints']
root_doc = 'index'

# Notebooks: saved outputs only; Markdown outputs (nbdev's show_doc) parsed as MyST.
nb_execution_mode = 'off'
nb_merge_streams = True
nb_render_markdown_format = 'myst'
myst_enable_extensions = ['dollarmath', 'amsmath', 'attrs_inline', 'attrs_block', 'colon_fence']
myst_dmath_double_inline = True
# tools/build_docs.py runs Sphinx with -W: a warning fails the build (a missing cross-reference would otherwise be a
# link that silently disappears). These two are harmless: notebooks may skip heading levels, and a cell with IPython
# syntax (`%time`, `!ls`) is shown without colours.
suppress_warnings = ['myst.header', 'misc.highlighting_failure']

# Everything the pages load is served with the site (.docs_vendor/, from tools/docs_vendor.py): no CDN.
html_static_path = [os.environ.get('DOCS_VENDOR', str(ROOT/'.docs_vendor')), str(ROOT/'docs'/'_static')]
html_css_files = ['site.css']
# Before MathJax and the widget embedder: MathJax 2's `Hub.Queue` for the embedder, on top of MathJax 3 (see the file).
html_js_files = [('mathjax2-shim.js', {'priority': 100})]
mathjax_path = 'mathjax/tex-mml-chtml.js'
# ipywidgets' embedder: the self-contained bundle (built-in widgets: IntSlider, Stack, HTML, Image, links, ...).
# `data-jupyter-widgets-cdn` is where it would fetch a third-party widget's code: this site, never a CDN.
nb_ipywidgets_js = {'html-manager/embed.js': {'data-jupyter-widgets-cdn': '_static/'}}

html_theme = 'furo'
html_favicon = '_static/favicon.svg'
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
