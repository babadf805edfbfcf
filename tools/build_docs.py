"""Build the documentation site from the notebooks, with their saved outputs, into `_site/` (`make docs`).

Usage: python tools/build_docs.py [--src nbs] [--out _site] [--builder auto|quarto|sphinx] [--no-api]

One source of truth, two renderers:
- where `quarto` is on PATH (`--builder auto`), nbdev's own path: the steps of `nbdev-docs` (nbs/_quarto.yml and
  nbs/nbdev.yml are committed);
- elsewhere, nbdev's notebook processors (the `FilterDefaults` pipeline that `nbdev-proc-nbs` runs, so `#| hide`,
  `#| echo: false`, `show_doc`, exported cells and the other directives behave as on an nbdev site), then Sphinx with
  MyST-NB. Why Sphinx + MyST-NB: it renders saved outputs as they are (`nb_execution_mode = 'off'`), parses the
  Markdown that `show_doc` returns into real headings and code blocks, takes MathJax from a local path
  (`mathjax_path`) and embeds ipywidgets state with a configurable, local html-manager (`nb_ipywidgets_js`); it is
  maintained by the Executable Books project (Jupyter Book 1 is built on it). mkdocs-jupyter hard-codes CDN URLs
  for require.js and the widget manager in its templates, and Jupyter Book 2 (mystmd) is a Node application whose
  themes load from the web.

Both paths differ from stock nbdev in one processor. Stock `exec_show_docs` re-executes every cell that contains an
import and overwrites its outputs; in these notebooks that means loading the model, running optimizations and
`#| slow` cells (minutes to hours on a CPU). Here only what the API docs need is executed (exported cells, cells made
of imports alone, `show_doc` cells; never a `tst_flags` cell such as `#| slow`), and only the `show_doc` cells keep
fresh outputs: every other cell shows the output saved in the notebook.

Navigation is built from the folders: Tutorials (`tutorials/*.ipynb`), Algorithm stages (`[0-9]*.ipynb`), Ablations
(`ablations/*.ipynb`), Appendix (`appendix/*.ipynb`), then an API reference page per module listing every name in its
`__all__`. A missing folder is left out; pages are ordered by file name. Browser libraries (MathJax, the ipywidgets
html-manager, require.js) come from `.docs_vendor/` (tools/docs_vendor.py); nothing on a page loads from a CDN.

Builds may run side by side (`make docs` beside `make test`, two pytest workers): each build works in a private folder
under build/docs/ (removed when it ends) and assembles its site in a private folder beside `--out`, which is swapped
into place by renames at the end, so one build never deletes or rewrites another's files and a reader of `--out` sees
the old site or the new one, never half of each. `--out` is replaced only when it is new, empty or a site this tool
built (it holds the `MARKER` file); a source folder, the repository root, or anything holding one, is refused in one
line before any work (`check_out`).
"""
import argparse, ast, html, importlib, json, os, re, shutil, subprocess, sys, tempfile, time, tomllib, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT/'.docs_vendor'
BUILD = ROOT/'build'/'docs'   # each build's private work folder: processed notebooks, Sphinx doctrees (gitignored)

# (section title, glob under the notebooks folder); pages in a section are ordered by file name.
SECTIONS = [('Tutorials', 'tutorials/*.ipynb'), ('Algorithm stages', '[0-9]*.ipynb'),
            ('Ablations', 'ablations/*.ipynb'), ('Appendix', 'appendix/*.ipynb')]
API_SECTION = 'API reference'
OTHER_SECTION = 'Other pages'

def site_url() -> str:
    "The published site's URL: the pyproject's Documentation URL (nbdev derives doc_host/doc_baseurl from it)."
    return tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['urls']['Documentation'].rstrip('/') + '/'

def _visible(rel:Path) -> bool: return not any(p.startswith(('.', '_')) for p in rel.parts)

def notebooks(src:Path) -> list[Path]:
    "Every notebook under `src` (relative paths), hidden and `_`-prefixed folders aside."
    return sorted(p.relative_to(src) for p in src.rglob('*.ipynb') if _visible(p.relative_to(src)))

def navigation(src:Path) -> list[tuple[str, list[Path]]]:
    "[(section, [notebook relative to src])] for the sections that have pages; notebooks in no section go last."
    nbs, used, res = notebooks(src), set(), []
    for title, pat in SECTIONS:
        pages = sorted((p for p in nbs if p.match(pat) and len(p.parts) == len(Path(pat).parts)), key=lambda p: p.name)
        pages = [p for p in pages if p not in used and p != Path('index.ipynb')]
        used.update(pages)
        if pages: res.append((title, pages))
    rest = [p for p in nbs if p not in used and p != Path('index.ipynb')]
    if rest: res.append((OTHER_SECTION, rest))
    return res

# ---------------------------------------------------------------------------------------------------------------------
# nbdev processing, saved outputs kept

def docs_filter():
    "nbdev's `FilterDefaults` with `exec_show_docs` replaced by a version that runs only what the API docs need."
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults, exec_show_docs, add_links, _show_docs, cell_lang
    from fastcore.basics import str2bool
    flags = get_config().tst_flags
    skip_flags = set(flags.split() if isinstance(flags, str) else flags or [])

    def needed(cell) -> bool:
        "Exported cells, cells of imports alone, and `show_doc` cells; never a skipped-flag cell (`#| slow`, `#| gpu`)."
        if cell.cell_type != 'code' or cell_lang(cell) != 'python' or not cell.source: return False
        d = cell.directives_
        if 'nbdev_export' in cell.source or d.get('eval', '').lower() == 'false' or skip_flags & set(d): return False
        trees = cell.parsed_()
        if not trees: return False
        if {'export', 'exports', 'exporti', 'exec_doc'} & set(d): return True
        if len(_show_docs(trees)) == len(trees): return True
        return all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees)

    class exec_saved_show_docs(exec_show_docs):
        "Like nbdev's `exec_show_docs`, but runs only `needed` cells and keeps the saved outputs of all but `show_doc`."
        def begin(self):
            try: from ipywidgets import Widget
            except ImportError: pass
            else: Widget.close_all()  # notebooks are processed in one interpreter: no widget state leaks between them
            super().begin()
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k'): return
            if str2bool(getattr(self.nb, 'frontmatter_', {}).get('skip_showdoc', False)) or not needed(cell): return
            saved = cell.get('outputs', [])
            self.k.cell(cell)
            if self.k.exc:
                raise RuntimeError(f'{self.nb.path_}: cell {cell.idx_} failed while building the API docs:\n'
                                   f'{cell.source}\n{type(self.k.exc).__name__}: {self.k.exc}') from self.k.exc
            if not _show_docs(cell.parsed_() or []): cell.outputs = saved

    swap = {exec_show_docs: exec_saved_show_docs, add_links: add_public_links}
    class DocsFilter(FilterDefaults):
        def base_procs(self): return [swap.get(p, p) for p in super().base_procs()]
    return DocsFilter

def is_private(sym:str) -> bool:
    "`_raised`, `Task._cache`: nbdev shows no docs for a name with one leading underscore, so a link to it would be dead."
    last = sym.split('.')[-1]
    return last.startswith('_') and not last.startswith('__')

def add_public_links(cell):
    """nbdev's `add_links` (a backticked library name in Markdown becomes a link to its docs), except for private
    names: prose may name a helper (`_replay_step`), but no page has an anchor for it."""
    from nbdev.doclinks import NbdevLookup
    class PublicLookup(NbdevLookup):
        def doc(self, sym): return None if is_private(sym) else super().doc(sym)
    nl = PublicLookup()
    if cell.cell_type == 'markdown': cell.source = nl.linkify(cell.source)
    for o in cell.get('outputs', []):
        md = (o.get('data') or {}).get('text/markdown')
        if md is not None: o.data['text/markdown'] = nl.linkify(''.join(md) if isinstance(md, list) else md)

def cache_nbdev_config():
    """nbdev re-reads and re-parses pyproject.toml on every `get_config()` (thousands of times in one build, a quarter of
    its time). Within this process each file is parsed once per modification time; callers get their own copy."""
    import copy, nbdev.config as cfg
    if getattr(cfg._load_toml, 'cached', False): return
    parse, seen = cfg._load_toml, {}
    def load(p):
        key = (str(Path(p).resolve()), Path(p).stat().st_mtime_ns)
        if key not in seen: seen[key] = parse(p)
        return copy.deepcopy(seen[key])
    load.cached = True
    cfg._load_toml = load

def process(src:Path, dst:Path) -> dict[Path, Path]:
    "nbdev-process every notebook under `src` into `dst` (other files copied); returns {source: processed}."
    from fastcore.nbio import read_nb, write_nb
    filt, res = docs_filter(), {}
    shutil.rmtree(dst, ignore_errors=True)
    for f in sorted(src.rglob('*')):
        rel = f.relative_to(src)
        if not f.is_file() or not _visible(rel) or f.suffix in ('.md', '.qmd', '.yml', '.yaml'): continue
        out = dst/rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix != '.ipynb': shutil.copy2(f, out); continue
        nb = read_nb(f)
        filt()(nb)
        write_nb(nb, out)
        res[rel] = out
    return res

# ---------------------------------------------------------------------------------------------------------------------
# API reference pages

def pandoc_id(text:str) -> str:
    "The id pandoc (Quarto) gives a heading, which nbdev's doc links point at: `Task.parse` -> `task.parse`."
    s = re.sub(r'[^\w\s.-]', '', text.strip().lower()).replace(' ', '-')
    return re.sub(r'^[^a-z]+', '', s) or 'section'

def library_modules() -> list[str]:
    "Modules of the library, in the order of their source notebooks."
    from nbdev.config import get_config
    lib = get_config().lib_path
    mods = []
    for p in sorted(lib.rglob('*.py')):
        if p.name.startswith('_') or '__pycache__' in p.parts: continue
        hit = re.search(r'File to edit: (\S+?\.ipynb)', p.read_text(encoding='utf-8'))
        name = '.'.join((lib.name, *p.relative_to(lib).with_suffix('').parts))
        mods.append((Path(hit.group(1)).name if hit else '~', name))
    return [m for _, m in sorted(mods)]

def symbol_markdown(name:str, obj) -> str:
    "nbdev's `show_doc` Markdown for functions and classes; a heading and the value for other exported names."
    from nbdev.showdoc import show_doc
    if callable(obj) and hasattr(obj, '__qualname__'):
        return show_doc(obj, name=name)._repr_markdown_()
    r = repr(obj)
    if len(r) > 400: r = r[:400] + ' …'
    return f'---\n\n### {name}\n\n```python\n{name}: {type(obj).__name__} = {r}\n```\n'

def api_markdown(module:str, doc_page:str|None) -> str:
    "An API reference page for `module`: every name in its `__all__`."
    mod = importlib.import_module(module)
    names = list(getattr(mod, '__all__', []))
    head = f'# {module}\n\n'
    if doc_page: head += f'Every exported name of `{module}`, explained in [its notebook]({doc_page}).\n\n'
    return head + '\n\n'.join(symbol_markdown(n, getattr(mod, n)) for n in names) + '\n'

# ---------------------------------------------------------------------------------------------------------------------
# From an nbdev-processed notebook to what MyST-NB renders

_OPT = re.compile(r'^\s*#\|\s*([\w-]+)\s*(?::\s*(.*?))?\s*$')
_HEADING = re.compile(r'^(#{1,6}) +(.+?) *$', re.M)

def _split_options(src:str) -> tuple[dict, str]:
    "Leading `#| key: value` lines (Quarto's cell options, as nbdev leaves them) and the rest of the source."
    lines, opts = src.splitlines(True), {}
    while lines and (m := _OPT.match(lines[0])):
        opts[m.group(1)] = (m.group(2) or 'true').strip().lower()
        lines.pop(0)
    return opts, ''.join(lines)

def _fix_show_doc_md(md:str) -> str:
    """nbdev's `show_doc` Markdown for MyST: each symbol's rule (`---`, which docutils refuses inside an output) becomes
    an anchor with the id that nbdev's links use (`#load_task`, `#task.parse`), drawn as a rule; the floating
    `[source]` link gets a class instead of Quarto's style attribute; no `#LNone` where nbdev has no line number."""
    lines, out, pending = md.splitlines(), [], None
    for i, line in enumerate(lines):
        if re.fullmatch(r'---\s*', line):
            pending = len(out); out.append(''); continue
        if (m := re.fullmatch(r'(#{2,6}) +(.+?) *', line)):
            anchor = f'<div id="{pandoc_id(m.group(2).strip("`"))}" class="nbdev-anchor"></div>\n'
            if pending is not None: out[pending] = anchor
            else: out.append(anchor)
            pending = None
        out.append(line)
    md = _classes_as_classes('\n'.join(out) + '\n')
    md = re.sub(r'\{target="_blank" style="float:right; font-size:smaller"\}', '{.nbdev-source}', md)
    return md.replace('#LNone)', ')')

_CLASS_SIG = re.compile(r'(```python\n)def ([A-Z]\w*)(\(.*?\n?\))(?:->None)?(:.*?\n```\n)(?:\n\*\2\([^\n]*\)\*\n)?', re.S)

def _classes_as_classes(md:str) -> str:
    """fastcore draws every signature as `def Name(...)->None:`, classes included, and a dataclass without a docstring
    gets its generated one (`*Name(a: int, ...)*`) as its description. A CapWords name (a class, by PEP 8) is drawn as
    `class Name(...):` and the generated description is left out (the parameters table already says it)."""
    return _CLASS_SIG.sub(lambda m: f'{m.group(1)}class {m.group(2)}{m.group(3)}{m.group(4)}', md)

_LINK = re.compile(r'(\]\()([^)\s]+)(\))')

def _fix_links(md:str, rel:Path, src:Path, pages:dict[Path, Path]) -> str:
    """Relative links that leave the notebooks folder: into it again (the home page is also the README, whose links
    start at the repository root: `nbs/00_data.ipynb`), or to the file on GitHub (`data_samples/README.md`).
    Links to notebooks follow them to their page names (`pages`: source -> processed, both relative to `src`)."""
    from nbdev.config import get_config
    cfg, root = get_config(), src.resolve()
    here = (root/pages.get(rel, rel)).parent
    def fix(m):
        target = m.group(2)
        if re.match(r'^(\w+:|#|/)', target): return m.group(0)
        path, frag = (target.split('#', 1) + [''])[:2]
        cands = [(root/rel).parent/path] + ([ROOT/path] if rel == Path('index.ipynb') else [])
        for cand in (c.resolve() for c in cands):
            if not cand.exists(): continue
            if cand.is_relative_to(root):
                new = Path(os.path.relpath(root/pages.get(cand.relative_to(root), cand.relative_to(root)), here)).as_posix()
            elif cand.is_relative_to(ROOT): new = f"{cfg.git_url}/blob/{cfg.branch}/{cand.relative_to(ROOT).as_posix()}"
            else: continue
            return m.group(1) + new + ('#' + frag if frag else '') + m.group(3)  # never Path(url): it folds https:// to https:/
        return m.group(0)
    return _LINK.sub(fix, md)

def _output_file(nb) -> str|None:
    "The page name nbdev gives a processed notebook (`output-file` in its front matter: `data.html` for 00_data)."
    import yaml
    for cell in nb.cells:
        s = ''.join(cell.get('source', ''))
        if cell.cell_type == 'raw' and s.lstrip().startswith('---'):
            return Path(f).stem if (f := (yaml.safe_load(s.strip().strip('-')) or {}).get('output-file')) else None

# A tqdm progress bar as it lands in a saved stderr stream: `Loading weights:  46%|####6     | 126/272 [00:00<00:00, ...]`
_PROGRESS = re.compile(r'^[^\n]*\d+%\|[^|\n]*\|\s*\d+(?:\.\d+)?[kMG]?/\d+(?:\.\d+)?[kMG]?\s*\[[^\n]*\]\s*$')

def strip_progress(text:str) -> str:
    "`text` (a stderr stream) without its tqdm progress-bar updates; every other line kept."
    lines = [seg for line in text.split('\n') for seg in [line.split('\r')[-1] if '\r' in line else line]]
    return '\n'.join(l for l in lines if not _PROGRESS.match(l))

def _plain(md:str) -> str:
    "Markdown reduced to plain text for an image's alt: links to their text, no code marks, TeX or emphasis."
    md = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', md)
    md = re.sub(r'\$\$.*?\$\$|\$[^$]*\$', '', md, flags=re.S)
    return re.sub(r'\s+', ' ', re.sub(r'[`*_#>|]', '', md)).strip()

_TITLE = re.compile(r'(?:suptitle|set_title|title)\(\s*f?([\'"])(.+?)\1')

def figure_alt(code:str, before:str|None) -> str:
    "Alt text for a cell's figure: the title the code gives it, else the first sentence of the Markdown just before it."
    if (m := _TITLE.search(code)) and not re.search(r'\{', m.group(2)): return m.group(2).strip()
    text = _plain(before or '')
    first = re.split(r'(?<=[.!?])\s', text, maxsplit=1)[0] if text else ''
    return (first[:197] + '...' if len(first) > 200 else first) or 'Figure (output of the code above)'

def to_myst_nb(nb, rel:Path, src:Path, pages:dict[Path, Path]):
    """Adapt the processed notebook `nb` (source: `src/rel`) in place for MyST-NB. Progress bars (tqdm's updates in a
    saved stderr stream, such as `Loading weights: 100%|...| 272/272`) are left out of the page: they are the state of
    one execution, not a result. Other stderr text (warnings) is kept: a warning is fixed where it is raised."""
    import yaml
    cells, last_md = [], None
    for cell in nb.cells:
        src_text = ''.join(cell.get('source', ''))
        if cell.cell_type == 'raw' and src_text.lstrip().startswith('---'):
            fm = yaml.safe_load(src_text.strip().strip('-')) or {}
            if 'title' in fm:
                desc = f"\n\n{{.lead}}\n{fm['description']}" if fm.get('description') else ''
                cells.append(dict(cell_type='markdown', metadata={}, source=f"# {fm['title']}{desc}"))
            continue
        if cell.cell_type == 'markdown':
            cell['source'] = _fix_links(src_text, rel, src, pages); last_md = src_text
        if cell.cell_type == 'code':
            opts, code = _split_options(src_text)
            if opts.get('include') == 'false': continue
            tags = set(cell.get('metadata', {}).get('tags', []))
            if opts.get('echo') == 'false': tags.add('remove-input')
            if opts.get('output') == 'false': tags.add('remove-output')
            if opts.get('code-fold') in ('true', 'show'): tags.add('hide-input')
            if not code.strip() and not cell.get('outputs'): continue
            cell['source'] = code.rstrip('\n')
            # An empty Markdown display (`Markdown('')`) is saved as `[]`, which MyST-NB cannot render: drop it.
            cell['outputs'] = [o for o in cell.get('outputs', []) if o.get('data', {}).get('text/markdown', 'x') not in (None, [], '')]
            for o in cell['outputs']:
                if o.get('output_type') == 'stream' and o.get('name') == 'stderr': o['text'] = strip_progress(''.join(o['text']))
            cell['outputs'] = [o for o in cell['outputs'] if o.get('output_type') != 'stream' or o['text'].strip()]
            cell.setdefault('metadata', {})['tags'] = sorted(tags)
            if any('image/png' in o.get('data', {}) for o in cell['outputs']):
                cell['metadata'].setdefault('mystnb', {}).setdefault('image', {})['alt'] = figure_alt(code, last_md)
            if 'show_doc' in code:
                for o in cell.get('outputs', []):
                    if 'text/markdown' in o.get('data', {}):
                        o['data']['text/markdown'] = _fix_show_doc_md(''.join(o['data']['text/markdown']))
        cells.append(cell)
    keep = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}
    for c in cells: c.get('metadata', {}).pop('execution', None)  # execnb's timings, not valid nbformat
    nb.cells = [{k: v for k, v in c.items() if k in keep} for c in cells]  # nbdev's own marks (`has_sd`) aside

def _toctree(caption:str, docs:list[str]) -> str:
    return '```{toctree}\n:hidden:\n:caption: ' + caption + '\n\n' + '\n'.join(docs) + '\n```'

def sphinx_sources(src:Path, dst:Path, api:bool) -> list[tuple[str, list[str]]]:
    "Processed, MyST-NB-ready notebooks (and API pages) in `dst`; returns the navigation as docnames."
    from fastcore.nbio import read_nb, write_nb
    if not (src/'index.ipynb').exists(): sys.exit(f'{src}/index.ipynb is missing: it is the home page')
    processed = {rel: (path, read_nb(path)) for rel, path in process(src, dst).items()}
    pages = {rel: rel.with_name((_output_file(nb) or rel.stem) + '.ipynb') for rel, (_, nb) in processed.items()}
    if len(set(pages.values())) < len(pages): sys.exit(f'two notebooks render to one page: {pages}')
    for rel, (path, nb) in processed.items():
        to_myst_nb(nb, rel, src, pages)
        path.unlink()
        write_nb(nb, dst/pages[rel])
    docname = {rel: p.with_suffix('').as_posix() for rel, p in pages.items()}
    nav = [(title, [docname[p] for p in pages]) for title, pages in navigation(src)]
    if api:
        from nbdev.config import get_config
        cfg = get_config()
        (dst/'api').mkdir(exist_ok=True)
        pages = []
        for m in library_modules():
            stem = m.split('.', 1)[1]
            nb_rel = next((r for r in docname if f'default_exp {stem}' in _first_code(src/r)), None)
            link = f'../{docname[nb_rel]}.ipynb' if nb_rel else None
            md = api_markdown(m, link)
            (dst/'api'/f'{stem}.md').write_text(_fix_show_doc_md(md), encoding='utf-8')
            pages.append(f'api/{stem}')
        if pages: nav.append((API_SECTION, pages))
    idx = dst/'index.ipynb'
    nb = read_nb(idx)
    from fastcore.nbio import mk_cell
    nb.cells.append(mk_cell('\n\n'.join(_toctree(t, d) for t, d in nav), 'markdown'))
    write_nb(nb, idx)
    return nav

def _first_code(path:Path) -> str:
    nb = json.loads(path.read_text(encoding='utf-8'))
    return '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code')

def work_dir(src:Path) -> Path:
    "A new folder under build/docs/ that belongs to this build alone (two builds of one `src` never share files)."
    BUILD.mkdir(parents=True, exist_ok=True)
    name = 'nbs' if src == ROOT/'nbs' else re.sub(r'\W', '_', str(src))[-40:]
    return Path(tempfile.mkdtemp(dir=BUILD, prefix=f'{name}-'))

def build_sphinx(src:Path, out:Path, api:bool=True, title:str|None=None):
    "Sphinx + MyST-NB: the site for the notebooks in `src`, into the new folder `out` (work files in a `work_dir`)."
    work = work_dir(src)
    try:
        nav = sphinx_sources(src, work/'src', api)
        env = dict(os.environ, DOCS_VENDOR=str(VENDOR), DOCS_TITLE=title or '', PYTHONWARNINGS='ignore')
        # MyST-NB writes the outputs it extracts next to the HTML folder (../jupyter_execute): build in `work`, then move.
        cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going', '-c', str(ROOT/'docs'),
               '-d', str(work/'doctrees'), str(work/'src'), str(work/'html')]
        subprocess.run(cmd, check=True, env=env)
        shutil.move(work/'html', out)
    finally: shutil.rmtree(work, ignore_errors=True)
    return nav

# ---------------------------------------------------------------------------------------------------------------------
# Quarto (nbdev's own path)

def build_quarto(out:Path, api:bool=True):
    """The steps of `nbdev-docs`, with the docs filter above and the sidebar from `navigation` (needs `quarto`), into the
    new folder `out`. nbdev's own cache (`_proc/`) is shared: two Quarto builds of one checkout must not run at once."""
    import yaml, nbdev.processors, nbdev.serve, nbdev.doclinks
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, render_quarto
    cfg = get_config()
    nbdev.serve.FilterDefaults = docs_filter()  # `_proc_file` hands this class to the (in-process) workers
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nav = [{'section': t, 'contents': [p.as_posix() for p in pages]} for t, pages in navigation(cfg.nbs_path)]
    cache = nbdev.serve.proc_nbs(cfg.nbs_path, n_workers=0, force=True)
    if api:
        (cache/'api').mkdir(exist_ok=True)
        for m in library_modules():
            stem = m.split('.', 1)[1]
            (cache/'api'/f'{stem}.md').write_text(api_markdown(m, None), encoding='utf-8')
        nav.append({'section': API_SECTION, 'contents': [f'api/{m.split(".", 1)[1]}.md' for m in library_modules()]})
    (cache/'sidebar.yml').write_text(yaml.dump({'website': {'sidebar': {'contents': ['index.ipynb', *nav]}}}, sort_keys=False))
    render_quarto(cache, cache/'_quarto_out', n_workers=1)
    shutil.move(cache/'_quarto_out', out)

# ---------------------------------------------------------------------------------------------------------------------
# After either builder: vendored libraries instead of CDNs, the site's own absolute links made relative

_CDN = [  # (pattern of a script URL on a CDN, vendored file under _static/)
    (r'https://[^"\']*mathjax[^"\']*/(tex-(?:mml-)?chtml(?:-full)?)\.js', r'mathjax/\1.js'),
    (r'https://[^"\']*html-manager[^"\']*/dist/embed-amd\.js', 'html-manager/embed-amd.js'),
    (r'https://[^"\']*html-manager[^"\']*/dist/embed\.js', 'html-manager/embed.js'),
    (r'https://[^"\']*require(?:\.min)?\.js', 'requirejs/require.js'),
]

_IMG = re.compile(r'<img [^>]*?src="([^"]*_images/[^"]+)"[^>]*>')

def link_figures(html_text:str) -> str:
    "Each notebook figure (`_images/...`) becomes a link to its full-size file: a wide plot opens at its own width."
    def wrap(m):
        before = html_text[:m.start()].rstrip()
        if re.search(r'<a\s[^<>]*>$', before): return m.group(0)  # already a link
        return f'<a class="figure-link" href="{m.group(1)}" title="Open the full-size figure">{m.group(0)}</a>'
    return _IMG.sub(wrap, html_text)

def dedupe_anchors(html_text:str) -> str:
    """A `show_doc` anchor (`<div id=X class="nbdev-anchor">`) loses its id when the page already has it: Sphinx gave
    the symbol's section the same id (`#X` still lands there), or an earlier anchor has it (pandoc ids are lower case:
    `EMBEDDED_GGUF` and `embedded_gguf` both get `embedded_gguf`). Duplicate ids break Sphinx's search summaries."""
    anchor = re.compile(r'<div id="([^"]+)" class="nbdev-anchor"></div>')
    taken = set(re.findall(r'\sid="([^"]+)"', anchor.sub('', html_text)))
    def one(m):
        if m.group(1) in taken: return '<div class="nbdev-anchor"></div>'
        taken.add(m.group(1)); return m.group(0)
    return anchor.sub(one, html_text)

def postprocess(out:Path, url:str|None=None):
    """Vendored copies for CDN scripts, relative links for links into the published site, figures linked to their full
    size, no duplicate ids, `.nojekyll` for Pages."""
    url = url or site_url()
    static = out/'_static'
    for sub in ('mathjax', 'html-manager', 'requirejs'):
        if not (static/sub).exists(): shutil.copytree(VENDOR/sub, static/sub)
    for page in out.rglob('*.html'):
        rel = page.relative_to(out)
        up = '../' * (len(rel.parts) - 1)
        text = t0 = page.read_text(encoding='utf-8')
        for pat, local in _CDN: text = re.sub(pat, lambda m: up + '_static/' + m.expand(local), text)
        text = re.sub(r'(href=")' + re.escape(url) + r'([^"]*)"', lambda m: f'{m.group(1)}{up}{m.group(2) or "index.html"}"', text)
        text = dedupe_anchors(link_figures(text))
        if text != t0: page.write_text(text, encoding='utf-8')
    (out/'.nojekyll').touch()

MARKER = '.greater_nb_docs'  # written at the top of every site this tool builds: only such a folder may be replaced

def check_out(out:Path, src:Path) -> Path:
    """The resolved `--out`, or one line and exit 1 (before any work, nothing deleted) when replacing it could destroy
    something: the repository root, a source folder (`--src`, nbs/, the library, tests/, docs/, tools/, .git/) or the
    build's work area, a folder holding one of them or inside one, a path that is not a folder, or an existing folder
    that is not empty and has no `MARKER` (not a site built by this tool)."""
    from nbdev.config import get_config
    cfg = get_config()
    if out.is_symlink(): sys.exit(f'--out {out}: is a symbolic link; give the folder itself')
    res = out.resolve()
    guarded = {'the repository root': ROOT, '--src': src.resolve(), 'the notebooks folder': Path(cfg.nbs_path).resolve(),
               'the library': Path(cfg.lib_path).resolve(), 'the tests': ROOT/'tests', 'the Sphinx configuration': ROOT/'docs',
               'the tools': ROOT/'tools', 'the git folder': ROOT/'.git', 'the docs work area': BUILD}
    for rel, hit in [('is', lambda g: res == g), ('holds', lambda g: g.is_relative_to(res)),
                     ('lies inside', lambda g: res.is_relative_to(g) and g != ROOT)]:
        for what, g in guarded.items():
            if hit(g): sys.exit(f'--out {out}: {rel} {what} ({g}); it would be deleted. Choose a new folder such as _site/')
    if res.exists() and not res.is_dir(): sys.exit(f'--out {out}: exists and is not a folder; choose a new folder')
    if res.is_dir() and any(res.iterdir()) and not (res/MARKER).is_file():
        sys.exit(f'--out {out}: exists and is not a site built by tools/build_docs.py (no {MARKER} in it); '
                 f'choose a new folder, or delete it yourself if it is an old build')
    return res

def publish(site:Path, out:Path, tries:int=20):
    """Put the finished `site` at `out` by renames (same file system): the previous site, if any, is renamed aside, then
    removed. Another build that publishes in between wins the race; this one then retries, so the last one stays."""
    for _ in range(tries):
        old = out.with_name(f'.{out.name}.old-{uuid.uuid4().hex[:8]}')
        try: os.rename(out, old)
        except FileNotFoundError: old = None
        try: os.rename(site, out); return
        except OSError:
            if not out.exists(): raise  # not a race with another build: a real error
        finally:
            if old: shutil.rmtree(old, ignore_errors=True)
    sys.exit(f'{out}: another build kept replacing it; run one build at a time')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--src', type=Path, default=ROOT/'nbs', help='notebooks folder (default nbs/)')
    ap.add_argument('--out', type=Path, default=ROOT/'_site', help='site folder (default _site/)')
    ap.add_argument('--builder', choices=['auto', 'quarto', 'sphinx'], default='auto')
    ap.add_argument('--no-api', action='store_true', help='no API reference pages')
    ap.add_argument('--title', help='site title (default: the project name)')
    a = ap.parse_args(argv)
    src, out = a.src.resolve(), a.out.absolute()  # relative to where the command was run
    os.chdir(ROOT)  # nbdev's processors read the project's configuration from the working directory
    cache_nbdev_config()
    out = check_out(out, src)
    if not (VENDOR/'VERSIONS.json').exists(): sys.exit(f'{VENDOR} is missing: run `make setup` (tools/docs_vendor.py)')
    builder = a.builder if a.builder != 'auto' else ('quarto' if shutil.which('quarto') else 'sphinx')
    if builder == 'quarto' and src != ROOT/'nbs': sys.exit('--builder quarto builds nbs/ only (nbdev-docs)')
    t = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f'.{out.name}.new-'))  # beside `out`: same file system
    try:
        site = stage/'site'
        if builder == 'quarto': build_quarto(site, api=not a.no_api)
        else: build_sphinx(src, site, api=not a.no_api, title=a.title)
        postprocess(site)
        (site/MARKER).write_text(json.dumps({'built_by': 'tools/build_docs.py', 'src': str(src)}) + '\n')
        n = sum(1 for _ in site.rglob('*.html'))
        publish(site, out)
    finally: shutil.rmtree(stage, ignore_errors=True)
    print(f'{builder}: {n} pages in {out} ({time.time() - t:.0f}s)')

if __name__ == '__main__': main()
