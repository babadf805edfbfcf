"""The documentation site: `make docs` (tools/build_docs.py) builds it, headless Chromium checks it.

The real site is built once from nbs/ (as `make docs` does, but into a temporary folder: a `make docs` running beside
the tests keeps its _site/) and a stand-in site from tests/fixtures/docs_site/ (math, an exported function, a plot, an
ipywidgets slider over a Stack) into another. Each is served on 127.0.0.1 and crawled (tests/site_check.py): every page and link answers 200, images load,
math is typeset, widget snapshots render, no console error, no request leaves 127.0.0.1. A copy of the stand-in with
broken links and assets injected shows that the checks fail when they should.

Every reference is also checked as it resolves on the published site (the pyproject's Documentation URL), and every
page for duplicate ids and for progress bars or warnings in outputs. The RunViewer is opened in the light and the dark
colour scheme and its text must be readable in both (contrast of at least 3:1).

Screenshots go to _site_screenshots/ (gitignored): home.png, stage.png, ablation.png (the real site's first ablation
page, once nbs/ablations/ exists), runviewer-light.png and runviewer-dark.png, and fixture-*.png.
"""
import ast, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_docs
from site_check import Server, contrast_problems, crawl, launch, slider_moves_panel

SHOTS = ROOT/'_site_screenshots'
FIXTURE = ROOT/'tests'/'fixtures'/'docs_site'
NBS = ROOT/'nbs'
# The page holding the RunViewer snapshot: the first of these that the site has. nbdev names a page after its
# notebook without the number prefix: nbs/tutorials/04_reading_runs.ipynb -> tutorials/reading_runs.html,
# nbs/12_widgets.ipynb -> widgets.html. Set GREATER_NB_RUNVIEWER_PAGE to point the test at another page.
RUNVIEWER_PAGES = os.environ.get('GREATER_NB_RUNVIEWER_PAGE', 'tutorials/reading_runs.html widgets.html').split()
# The stand-in's pages (see tests/fixtures/make_docs_fixture.py).
FIXTURE_WIDGET_PAGE, FIXTURE_STAGE, FIXTURE_ABLATION = 'tutorials/run_viewer.html', 'stage.html', 'ablations/ablation.html'

def _build(*args, timeout=900) -> float:
    t = time.time()
    subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py'), *args], check=True, cwd=ROOT, timeout=timeout)
    return time.time() - t

@pytest.fixture(scope='session')  # session: the docs tests share one worker (xdist_group) but may interleave with other files
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('real')/'site'
    secs = _build('--out', str(out))
    print(f'\nmake docs: built the site in {secs:.0f}s')
    return out

@pytest.fixture(scope='session')  # session: the docs tests share one worker (xdist_group) but may interleave with other files
def fixture_site(tmp_path_factory):
    out = tmp_path_factory.mktemp('fixture')/'site'
    _build('--src', str(FIXTURE), '--out', str(out), '--no-api', '--title', 'Fixture site')
    return out

@pytest.fixture(scope='module')  # module: one sync Playwright at a time per process (the widgets test starts its own)
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()

@pytest.fixture(scope='session')  # session: the docs tests share one worker (xdist_group) but may interleave with other files
def served(site):
    with Server(site) as url: yield url

@pytest.fixture(scope='session')  # session: the docs tests share one worker (xdist_group) but may interleave with other files
def fixture_served(fixture_site):
    with Server(fixture_site) as url: yield url

@pytest.fixture(scope='module')  # module: one sync Playwright at a time per process (the widgets test starts its own)
def report(browser, served, site):
    t = time.time()
    rep = crawl(browser, served, pages_url=build_docs.site_url(), site_dir=site)
    print(f'\ncrawled {len(rep.pages)} pages in {time.time() - t:.0f}s')
    return rep

@pytest.fixture(scope='module')  # module: one sync Playwright at a time per process (the widgets test starts its own)
def fixture_report(browser, fixture_served, fixture_site):
    return crawl(browser, fixture_served, pages_url=build_docs.site_url(), site_dir=fixture_site)

def _nbdev_page(rel:Path) -> set[str]:
    "The page names nbdev may give notebook `rel`: without its number prefix (it has a title), or as it is."
    from nbdev.config import nbpath2html
    return {nbpath2html(rel).as_posix(), rel.with_suffix('.html').as_posix()}

def _sidebar(page) -> list[tuple[str, list[str]]]:
    "The home page's navigation: [(caption, [href of each entry])]."
    return page.evaluate("""() => Array.from(document.querySelectorAll('.sidebar-tree p.caption')).map(c => [
        c.textContent.trim(), Array.from(c.nextElementSibling.querySelectorAll(':scope > li > a')).map(a => a.getAttribute('href'))])""")

# ---------------------------------------------------------------------------------------------------------------------
# The real site

def test_site_crawl_finds_no_problem(report):
    assert 'index.html' in report.pages
    assert not report.problems, '\n'.join(report.problems)

def test_navigation_follows_the_folders(site, browser, served):
    "Sections in the issue's order, each with its folder's notebooks ordered by file name, then the API reference."
    expected, placed = [], {Path('index.ipynb')}
    for title, pat in [('Tutorials', 'tutorials/*.ipynb'), ('Algorithm stages', '[0-9]*.ipynb'),
                       ('Ablations', 'ablations/*.ipynb'), ('Appendix', 'appendix/*.ipynb')]:
        nbs = sorted((p.relative_to(NBS) for p in NBS.glob(pat)), key=lambda p: p.name)
        placed.update(nbs)
        if nbs: expected.append((title, nbs))
    rest = sorted(p for p in build_docs.notebooks(NBS) if p not in placed)
    if rest: expected.append((build_docs.OTHER_SECTION, rest))
    page = browser.new_page()
    page.goto(served + 'index.html')
    nav = _sidebar(page)
    page.close()
    assert [c for c, _ in nav] == [t for t, _ in expected] + [build_docs.API_SECTION], nav
    for (title, nbs), (_, hrefs) in zip(expected, nav):
        assert len(hrefs) == len(nbs), (title, hrefs)
        for nb, href in zip(nbs, hrefs): assert href in _nbdev_page(nb), (title, nb, href)
    assert (site/'index.html').exists() and all((site/h).exists() for _, hs in nav for h in hs)

def _exported(mod_file:Path) -> list[str]:
    "The names in a module's `__all__`, read without importing it."
    for node in ast.parse(mod_file.read_text(encoding='utf-8')).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            return ast.literal_eval(node.value)
    return []

def test_api_reference_has_every_exported_symbol(report):
    lib = ROOT/'greater_nb'
    mods = sorted(p for p in lib.glob('*.py') if not p.name.startswith('_'))
    assert mods
    missing = []
    for m in mods:
        page = report.pages.get(f'api/{m.stem}.html')
        if page is None: missing.append(f'api/{m.stem}.html'); continue
        missing += [f'api/{m.stem}.html#{build_docs.pandoc_id(n)}' for n in _exported(m) if build_docs.pandoc_id(n) not in page['ids']]
    assert not missing, missing

def test_stage_pages_show_saved_outputs_and_nbdev_docs(report):
    "Saved outputs (the plots that `make nbs` saved) are on the pages, and nbdev adds `show_doc` for exported code."
    saved_pngs = sum(1 for p in NBS.rglob('*.ipynb') for c in json.loads(p.read_text())['cells']
                     for o in c.get('outputs', []) if 'image/png' in o.get('data', {}))
    shown = sum(len(p['images']) for k, p in report.pages.items() if not k.startswith('api/'))
    assert shown >= saved_pngs > 0
    data = report.pages['data.html']
    assert 'load_task' in data['ids'] and 'task' in data['ids']  # show_doc anchors, as nbdev's links expect

def test_runviewer_snapshot_responds_to_slider(site, browser, served):
    page_name = next((p for p in RUNVIEWER_PAGES if (site/p).exists()), None)
    if page_name is None: pytest.skip(f'no RunViewer page yet (looked for {RUNVIEWER_PAGES})')
    page = browser.new_page()
    page.goto(served + page_name)
    before, after, back = slider_moves_panel(page)
    page.close()
    assert after != before and back == before, (before, after, back)

def _both_schemes(browser, url:str, shots:dict) -> dict:
    "Open `url` in the light and the dark scheme: {scheme: hard-to-read widget text}; screenshots to SHOTS/shots[scheme]."
    SHOTS.mkdir(exist_ok=True)
    res = {}
    for scheme, name in shots.items():
        page = browser.new_page(viewport={'width': 1280, 'height': 1000}, color_scheme=scheme)
        page.goto(url); page.wait_for_load_state('load')
        page.locator('.widget-slider').first.wait_for(state='visible', timeout=10_000)
        page.locator('.jupyter-widgets').first.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS/name)
        res[scheme] = contrast_problems(page)
        page.close()
    return res

def test_runviewer_readable_in_both_schemes(site, browser, served):
    "furo follows the reader's colour scheme: the RunViewer's text stays readable in light and in dark."
    page_name = next((p for p in RUNVIEWER_PAGES if (site/p).exists()), None)
    if page_name is None: pytest.skip(f'no RunViewer page yet (looked for {RUNVIEWER_PAGES})')
    bad = _both_schemes(browser, served + page_name, {'light': 'runviewer-light.png', 'dark': 'runviewer-dark.png'})
    assert bad == {'light': [], 'dark': []}, bad

def test_screenshots(site, browser, served, report):
    SHOTS.mkdir(exist_ok=True)
    nav = dict(build_docs.navigation(NBS))
    shots = {'home.png': 'index.html'}
    for name, section in [('stage.png', 'Algorithm stages'), ('ablation.png', 'Ablations')]:
        pages = [next(h for h in _nbdev_page(rel) if h in report.pages) for rel in nav.get(section, [])]
        if pages: shots[name] = next((p for p in pages if report.pages[p]['images']), pages[0])  # one with a plot
    page = browser.new_page(viewport={'width': 1280, 'height': 1000})
    for name, url in shots.items():
        page.goto(served + url); page.wait_for_load_state('load')
        page.screenshot(path=SHOTS/name)
        assert (SHOTS/name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (SHOTS/name).stat().st_size > 10_000
    page.close()
    assert {'home.png', 'stage.png'} <= set(shots)

# ---------------------------------------------------------------------------------------------------------------------
# The stand-in site: math, show_doc, a plot, a widget snapshot

def test_fixture_site_crawl_finds_no_problem(fixture_report, fixture_site, browser, fixture_served):
    rep = fixture_report
    assert not rep.problems, '\n'.join(rep.problems)
    assert rep.pages['index.html']['math'] >= 2 and rep.pages[FIXTURE_STAGE]['math'] >= 1  # typeset (checked above)
    assert len(rep.pages[FIXTURE_ABLATION]['images']) == 1
    assert rep.pages[FIXTURE_WIDGET_PAGE]['widgets'] == 1
    assert 'fixture_loss' in rep.pages[FIXTURE_STAGE]['ids']  # show_doc added by nbdev for the exported function
    html = (fixture_site/FIXTURE_STAGE).read_text()
    assert 'output shown, code hidden' in html and 'print(&quot;output shown' not in html  # `#| echo: false`
    assert 'import math' not in html  # `#| hide`
    import html as H
    text = H.unescape(re.sub(r'<[^>]+>', '', html))
    assert 'class FixtureScore(' in text and 'def FixtureScore' not in text and 'FixtureScore(ce:' not in text
    assert "A prompt's score on a batch." in text.replace('’', "'")  # the dataclass's docstring
    assert '\nloaded\n' in text and 'Loading weights:' not in text  # the tqdm bar is left out, the print kept
    assert 'class="dataframe' in html
    home = (fixture_site/'index.html').read_text()
    assert 'href="https://github.com/greater-nb/greater_nb/blob/main/LICENSE"' in home  # `//` kept
    assert 'class="repo-link" href="https://github.com/greater-nb/greater_nb"' in home
    abl = (fixture_site/FIXTURE_ABLATION).read_text()
    assert re.search(r'<a class="figure-link" href="[^"]*_images/[^"]+\.png"[^>]*><img alt="Loss by step"', abl), abl[-3000:]
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={'width': 1280, 'height': 800})
    for name, url in [('fixture-home.png', 'index.html'), ('fixture-stage.png', FIXTURE_STAGE),
                      ('fixture-ablation.png', FIXTURE_ABLATION), ('fixture-run-viewer.png', FIXTURE_WIDGET_PAGE)]:
        page.goto(fixture_served + url); page.wait_for_load_state('load')
        page.screenshot(path=SHOTS/name)
    page.close()

def test_fixture_widget_readable_in_both_schemes(browser, fixture_served):
    bad = _both_schemes(browser, fixture_served + FIXTURE_WIDGET_PAGE,
                        {'light': 'fixture-run-viewer-light.png', 'dark': 'fixture-run-viewer-dark.png'})
    assert bad == {'light': [], 'dark': []}, bad

def test_fixture_copy_buttons(browser, fixture_served):
    "Every code block has a copy button; outputs do not."
    page = browser.new_page()
    page.goto(fixture_served + FIXTURE_STAGE); page.wait_for_load_state('load')
    n_code = page.locator('.cell_input div.highlight').count()
    n_buttons = page.locator('button.copybtn').count()
    in_outputs = page.locator('.cell_output button.copybtn').count()
    page.close()
    assert n_code >= 3 and n_buttons == n_code and in_outputs == 0, (n_code, n_buttons, in_outputs)

def test_fixture_search_summaries_have_no_tex(browser, fixture_served):
    "A search result's summary is the page's text, its math left out (not its TeX source), and search throws nothing."
    page, errors = browser.new_page(), []
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.goto(fixture_served + 'search.html?q=objective')
    page.locator('#search-results li p.context').first.wait_for(timeout=20_000)
    summary = page.locator('#search-results li p.context').first.inner_text()
    page.close()
    assert 'objective combines the cross-entropy' in summary and '\\' not in summary and not errors, (summary, errors)

def test_fixture_widget_slider_changes_panel(browser, fixture_served):
    page = browser.new_page()
    page.goto(fixture_served + FIXTURE_WIDGET_PAGE)
    before, after, back = slider_moves_panel(page)
    page.close()
    assert 'step 0: Use logic.' in before and 'step 1' not in before
    assert 'step 1: Use proper logic.' in after and 'step 0' not in after
    assert back == before

def test_checker_reports_a_broken_site(browser, fixture_site, tmp_path):
    "Broken links, assets, math and widgets, console errors and outside requests in a copy: each one is reported."
    broken = tmp_path/'broken'
    shutil.copytree(fixture_site, broken)
    idx = broken/'index.html'
    idx.write_text(idx.read_text().replace('</article>', '''
        <p><a href="missing.html">a page that is not there</a> <a href="stage.html#no-such-anchor">a missing anchor</a>
        <a href="_static/missing.pdf">a missing file</a> <img src="_images/missing.png" alt="missing">
        <span>raw $x^2$ left as TeX</span> <a href="https:/github.com/greater-nb/greater_nb">a collapsed URL</a>
        <a href="/stage.html">a link from the server's root</a> <span id="twice"></span><span id="twice"></span></p>
        <div class="cell_output"><pre>Loading weights: 100%|##########| 272/272 [00:00&lt;00:00, 2841.29it/s]</pre>
        <pre>x.py:19: UserWarning: marker is redundantly defined</pre><img src="_images/plot.png" alt="_images/plot.png"></div>
        <script src="https://cdn.example.invalid/lib.js"></script><script>console.error("boom")</script></article>'''))
    viewer = broken/FIXTURE_WIDGET_PAGE
    viewer.write_text(re.sub(r'<script type="application/vnd.jupyter.widget-state\+json">.*?</script>', '',
                             viewer.read_text(), flags=re.S))
    (broken/'_static'/'mathjax'/'tex-mml-chtml.js').unlink()
    with Server(broken) as url: rep = crawl(browser, url, pages_url=build_docs.site_url(), site_dir=broken)
    text = '\n'.join(rep.problems)
    for expected in ['404 for page missing.html', 'no #no-such-anchor on stage.html', '404 for _static/missing.pdf',
                     'image not loaded on index.html', 'raw TeX on index.html: raw $x^2$',
                     'request left 127.0.0.1: https://cdn.example.invalid/lib.js', 'console error on index.html: boom',
                     f'math not typeset on {FIXTURE_STAGE}', f'widget snapshot(s) not rendered on {FIXTURE_WIDGET_PAGE}',
                     'malformed URL on index.html: https:/github.com/greater-nb/greater_nb',
                     'leaves the site on Pages: /stage.html on index.html resolves to https://greater-nb.github.io/stage.html',
                     'missing on Pages: missing.html on index.html', '1 duplicate id(s) on index.html: twice',
                     'progress bar or warning in an output on index.html: Loading weights: 100%|',
                     'progress bar or warning in an output on index.html: x.py:19: UserWarning',
                     "figure without alt text on index.html: '_images/plot.png'"]:
        assert expected in text, f'{expected!r} not reported:\n{text}'

# ---------------------------------------------------------------------------------------------------------------------
# Builds side by side, and what --out may be

def test_builds_side_by_side_do_not_collide(tmp_path):
    """Two builds of one source into one `--out`, at once (as `make docs` beside `make test`, or two pytest workers):
    both succeed and the site is whole. They used to share build/docs/<src>/, which each removed at its start: the
    full suite failed with `FileNotFoundError: build/docs/nbs/src/appendix/a6_distributed.ipynb`."""
    out = tmp_path/'site'
    cmd = [sys.executable, str(ROOT/'tools'/'build_docs.py'), '--src', str(FIXTURE), '--out', str(out), '--no-api']
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    res = [(p.wait(timeout=600), p.stdout.read()) for p in procs]
    assert all(rc == 0 for rc, _ in res), '\n'.join(log[-3000:] for _, log in res)
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob('*.html'))
    assert {'index.html', FIXTURE_STAGE, FIXTURE_ABLATION, FIXTURE_WIDGET_PAGE} <= set(pages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['site']  # no staging or old copies left beside it

def _tree(folder:Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob('*') if p.is_file())

def test_out_that_could_destroy_something_is_refused(tmp_path, monkeypatch):
    "An `--out` that is, holds or lies inside a source folder or the root, or a folder this tool did not build: one line."
    monkeypatch.chdir(ROOT)  # main() changes to the root; this restores the test's own
    foreign = tmp_path/'mine'; foreign.mkdir(); (foreign/'notes.txt').write_text('keep me')
    (tmp_path/'a_file').write_text('keep me too')
    cases = {str(FIXTURE): 'is --src', str(NBS): 'is the notebooks folder', '.': 'is the repository root',
             str(ROOT.parent): 'holds the repository root', 'greater_nb': 'is the library', 'tests': 'is the tests',
             str(NBS/'ablations'): 'lies inside the notebooks folder', 'tests/fixtures': 'holds --src',
             'build/docs/x': 'lies inside the docs work area',
             str(foreign): 'is not a site built by tools/build_docs.py', str(tmp_path/'a_file'): 'is not a folder'}
    before = {d: _tree(d) for d in (FIXTURE, NBS/'ablations', foreign)}
    for out, says in cases.items():
        with pytest.raises(SystemExit) as e: build_docs.main(['--src', str(FIXTURE), '--out', out, '--no-api'])
        msg = str(e.value.code)
        assert says in msg and '\n' not in msg, (out, msg)
    assert {d: _tree(d) for d in before} == before and (tmp_path/'a_file').read_text() == 'keep me too'
    # From a shell: exit status 1 and one line, before any work.
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py'), '--out', '.'], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().count('\n') == 0 and 'is the repository root' in r.stderr, r.stderr
    assert (ROOT/'pyproject.toml').exists()

# ---------------------------------------------------------------------------------------------------------------------
# Pieces of the pipeline

def test_processing_keeps_saved_outputs_and_runs_only_what_docs_need(tmp_path, monkeypatch):
    """nbdev's processors with one change: a cell mixing imports and other code is not re-executed (stock nbdev
    would run it and replace its output), a `#| slow` cell neither, and exported code still gets its `show_doc`."""
    from fastcore.nbio import read_nb
    import nbformat
    from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell, new_output
    src, out = tmp_path/'nbs', tmp_path/'out'
    src.mkdir()
    mixed = new_code_cell('import os\nraise RuntimeError("re-executed")',
                          outputs=[new_output('stream', name='stdout', text='the saved output\n')])
    nb = new_notebook(cells=[new_markdown_cell('# T\n\n> d'), new_code_cell('#| export\ndef f(x:int): "Doc of f."; return x'),
                             mixed, new_code_cell('#| slow\nimport no_such_module_anywhere')])
    nbformat.write(nb, src/'01_t.ipynb')
    monkeypatch.chdir(ROOT)
    build_docs.process(src, out)
    cells = read_nb(out/'01_t.ipynb').cells
    srcs = [''.join(c.source) for c in cells]
    assert any('the saved output' in ''.join(o.get('text', '')) for c in cells for o in c.get('outputs', []))
    sd = [c for c in cells if 'show_doc(f)' in ''.join(c.source)]
    assert sd and 'Doc of f.' in ''.join(sd[0].outputs[0]['data']['text/markdown'])
    assert any('no_such_module_anywhere' in s for s in srcs)  # kept as a page cell, never executed

def test_page_fixes(monkeypatch):
    "The small rewrites between nbdev and the page, on the inputs that broke the real site."
    monkeypatch.chdir(ROOT)
    bar = '\rLoading weights:   0%|          | 0/272 [00:00<?, ?it/s]\rLoading weights: 100%|##########| 272/272 [00:00<00:00, 2841.29it/s]\n'
    from fastcore.test import test_eq
    test_eq(build_docs.strip_progress(bar).strip(), '')
    test_eq(build_docs.strip_progress('x.py:3: UserWarning: y\n  plot()\n'), 'x.py:3: UserWarning: y\n  plot()\n')
    test_eq(build_docs.figure_alt('ax.set_title("Loss by step")', 'Ignored.'), 'Loss by step')
    test_eq(build_docs.figure_alt('plt.plot(x)', 'The **loss** of [eq 6](a.ipynb) falls, $L$ drops. Then more.'),
            'The loss of eq 6 falls, drops.')
    page = ('<section id="task"><div id="task" class="nbdev-anchor"></div>'
            '<div id="embedded_gguf" class="nbdev-anchor"></div><div id="embedded_gguf" class="nbdev-anchor"></div></section>')
    test_eq(build_docs.dedupe_anchors(page), '<section id="task"><div class="nbdev-anchor"></div>'
            '<div id="embedded_gguf" class="nbdev-anchor"></div><div class="nbdev-anchor"></div></section>')
    test_eq(build_docs.link_figures('<img alt="a" src="_images/p.png" />'),
            '<a class="figure-link" href="_images/p.png" title="Open the full-size figure"><img alt="a" src="_images/p.png" /></a>')
    md = build_docs._fix_links('[data](data_samples/README.md)', Path('index.ipynb'), NBS, {})
    assert md.startswith('[data](https://github.com/') and md.endswith('/data_samples/README.md)'), md
    from fastcore.basics import AttrDict
    cell = AttrDict(cell_type='markdown', source='`load_task` reads; `_replay_step` and `checkers._Raised` are helpers.')
    build_docs.add_public_links(cell)  # a private name has no anchor on any page: a link to it would be dead
    assert cell.source.startswith('[`load_task`](') and cell.source.endswith('; `_replay_step` and `checkers._Raised` are helpers.'), cell.source
    test_eq([build_docs.is_private(s) for s in ('_image', 'Task._cache', '__init__', 'Task.parse')], [True, True, False, False])
    sig = '### Score\n\n```python\ndef Score(\n    ce:float, # CE\n)->None:\n```\n\n*Score(ce: float)*\n'
    test_eq(build_docs._classes_as_classes(sig), '### Score\n\n```python\nclass Score(\n    ce:float, # CE\n):\n```\n')

def test_run_nbs_saves_widget_state(tmp_path):
    "`make nbs` (tools/run_nbs.py) saves the state of the widgets a notebook shows, which the site embeds."
    import importlib.util
    spec = importlib.util.spec_from_file_location('run_nbs', ROOT/'tools'/'run_nbs.py')
    run_nbs = importlib.util.module_from_spec(spec); spec.loader.exec_module(run_nbs)
    nb = json.loads((FIXTURE/'tutorials'/'01_run_viewer.ipynb').read_text())
    nb['metadata'].pop('widgets')
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    work = ROOT/'build'/'test_run_nbs'
    shutil.rmtree(work, ignore_errors=True); work.mkdir(parents=True)
    try:
        p = work/'w.ipynb'
        p.write_text(json.dumps(nb))
        assert run_nbs.run_nb(p, ROOT, ['gpu'])
        saved = json.loads(p.read_text())
    finally: shutil.rmtree(work, ignore_errors=True)
    state = saved['metadata']['widgets'][run_nbs.WIDGET_STATE]['state']
    view = next(o['data']['application/vnd.jupyter.widget-view+json'] for c in saved['cells'] for o in c.get('outputs', [])
                if 'application/vnd.jupyter.widget-view+json' in o.get('data', {}))
    assert view['model_id'] in state
    assert {'IntSliderModel', 'StackModel', 'LinkModel'} <= {m['model_name'] for m in state.values()}

def test_navigation_handles_missing_folders(tmp_path):
    for rel in ['index.ipynb', '02_b.ipynb', '01_a.ipynb', 'ablations/10_z.ipynb', 'ablations/02_y.ipynb', 'misc/x.ipynb',
                '.hidden/h.ipynb', '_proc/p.ipynb']:
        (tmp_path/rel).parent.mkdir(parents=True, exist_ok=True); (tmp_path/rel).write_text('{}')
    nav = [(t, [p.as_posix() for p in ps]) for t, ps in build_docs.navigation(tmp_path)]
    assert nav == [('Algorithm stages', ['01_a.ipynb', '02_b.ipynb']),
                   ('Ablations', ['ablations/02_y.ipynb', 'ablations/10_z.ipynb']),
                   (build_docs.OTHER_SECTION, ['misc/x.ipynb'])]

def test_documentation_url_is_the_pages_url():
    "The pyproject's Documentation URL is where GitHub Pages publishes the repository, and the workflow deploys _site."
    import tomllib
    urls = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['urls']
    owner, repo = re.fullmatch(r'https://github\.com/([^/]+)/([^/]+?)/?', urls['Repository']).groups()
    assert urls['Documentation'] == f'https://{owner.lower()}.github.io/{repo}/'
    wf = (ROOT/'.github'/'workflows'/'pages.yml').read_text()
    assert 'make docs' in wf and re.search(r'path:\s*_site\b', wf) and 'actions/deploy-pages' in wf
    assert urls['Documentation'] in wf

pytestmark = pytest.mark.xdist_group('docs')  # one pytest-xdist worker runs this file (module fixtures)

def test_server_is_quiet_when_a_client_drops_but_not_on_real_errors(tmp_path, capsys):
    "A browser closing a connection mid-transfer prints nothing; a real error in a handler still prints its traceback."
    import socket, struct
    (tmp_path/'big.bin').write_bytes(b'x' * (32 << 20))   # larger than the socket buffers, so the server is mid-write
    with Server(tmp_path) as url:
        host, port = url.split('//')[1].rstrip('/').split(':')
        for _ in range(3):
            s = socket.create_connection((host, int(port)))
            s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'); s.recv(1024)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); s.close()   # reset, as a browser may
    assert 'Traceback' not in capsys.readouterr().err   # the server closed: its handler threads have finished
    import site_check
    httpd = site_check._Httpd(('127.0.0.1', 0), site_check._Quiet)
    try: raise ValueError('a real bug in a handler')
    except ValueError: httpd.handle_error(None, ('127.0.0.1', 0))
    finally: httpd.server_close()
    assert 'ValueError: a real bug in a handler' in capsys.readouterr().err
