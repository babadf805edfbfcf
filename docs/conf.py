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
# copybutton.js: a copy button on every code block; search-summaries.js: search results' summaries without TeX source.
html_js_files = [('mathjax2-shim.js', {'priority': 100}), 'copybutton.js', 'search-summaries.js']
mathjax_path = 'mathjax/tex-mml-chtml.js'
# ipywidgets' embedder: the self-contained bundle (built-in widgets: IntSlider, Stack, HTML, Image, links, ...).
# `data-jupyter-widgets-cdn` is where it would fetch a third-party widget's code: this site, never a CDN.
nb_ipywidgets_js = {'html-manager/embed.js': {'data-jupyter-widgets-cdn': '_static/'}}

html_theme = 'furo'
# The repository, at the top of every page and in the footer (furo: `announcement`, `footer_icons`).
_repo = _proj['urls']['Repository']
_github_svg = ('<svg stroke="currentColor" fill="currentColor" stroke-width="0" viewBox="0 0 16 16"><path fill-rule="evenodd" '
               'd="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49'
               '-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28'
               '-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32'
               '-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75'
               '-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z">'
               '</path></svg>')
html_theme_options = {
    'announcement': f'<a class="repo-link" href="{_repo}">{_github_svg} {_repo.removeprefix("https://")}</a>',
    'footer_icons': [{'name': 'GitHub', 'url': _repo, 'html': _github_svg, 'class': ''}],
}
html_favicon = '_static/favicon.svg'
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
