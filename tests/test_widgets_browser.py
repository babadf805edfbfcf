"""The widgets in real JupyterLab, end to end, in headless Chromium.

The tests start JupyterLab on 127.0.0.1 (a random free port, a random token, a temporary root folder and temporary
settings, so nothing of the user's is read or written) and open notebooks in Debian's Chromium driven by Playwright
(`executable_path`; Playwright's own browser download is not used):

- `RunViewer` on the committed run log (nbs/assets/word_problems_run.jsonl): run the cells, move the slider with the
  keyboard on its handle, check that the shown step changes in the page and, through the widget comm, in the kernel;
- `OptimizerStepper` on the embedded model: click *Step* in the page, see the stage in progress, run another cell
  while the step runs (the kernel is not blocked), and see the step's panels arrive.

Screenshots (gitignored): _site_screenshots/jupyterlab-run-viewer.png and jupyterlab-stepper.png.
"""
import json, os, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tests'))
from site_check import launch

LOG = ROOT/'nbs'/'assets'/'word_problems_run.jsonl'
SHOTS = ROOT/'_site_screenshots'
KERNEL_WAIT = 240  # seconds for the kernel to start, import greater_nb and draw the viewer (about 10 s on an idle laptop)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _notebook(path:Path, *sources:str):
    cell = lambda src: dict(cell_type='code', execution_count=None, id=secrets.token_hex(4), metadata={}, outputs=[], source=src)
    nb = dict(cells=[cell(s) for s in sources], nbformat=4, nbformat_minor=5,
              metadata={'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}})
    path.write_text(json.dumps(nb))

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "JupyterLab on 127.0.0.1 with the tests' notebooks: yields (base URL, token, its log file)."
    tmp_path = tmp_path_factory.mktemp('lab')
    root, port, token = tmp_path/'root', _free_port(), secrets.token_hex(16)
    root.mkdir()
    _notebook(root/'viewer.ipynb', f'from greater_nb.widgets import RunViewer\nviewer = RunViewer({str(LOG)!r})\nviewer',
              'print(f"kernel sees step {viewer.slider.value}, panel {viewer.stack.selected_index}")')
    _notebook(root/'stepper.ipynb',
              'from greater_nb.models import load_model\nfrom greater_nb.optimizer import GreaterConfig\n'
              'from greater_nb.widgets import OptimizerStepper\nmodel, tok = load_model(dtype="float32")\n'
              'stepper = OptimizerStepper(model, tok, "word_problems", GreaterConfig(steps=3, n_train=1, max_new_tokens=16))\nstepper',
              'print(f"kernel answers: busy={stepper.busy} steps={stepper.state.step}")')
    news = tmp_path/'settings'/'@jupyterlab'/'apputils-extension'/'notification.jupyterlab-settings'
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "Would you like to get notified about Jupyter news?" toast
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path/'config'), JUPYTER_RUNTIME_DIR=str(tmp_path/'runtime'),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path/'settings'), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path/'workspaces'),
               IPYTHONDIR=str(tmp_path/'ipython'), PYTHONUNBUFFERED='1')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', *(['--allow-root'] if os.geteuid() == 0 else []), '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
           '--LabApp.expose_app_in_browser=True', '--LabApp.news_url=None', '--LabApp.extension_manager=readonly',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    log = tmp_path/'jupyterlab.log'
    with log.open('w') as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f'http://127.0.0.1:{port}'
    try:
        t0 = time.time()
        while True:
            if proc.poll() is not None: pytest.fail(f'JupyterLab exited with status {proc.returncode}:\n{log.read_text()[-3000:]}')
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2) as r:
                    if r.status == 200: break
            except OSError: pass
            if time.time() - t0 > 60: pytest.fail(f'JupyterLab did not answer on {base} within 60 s:\n{log.read_text()[-3000:]}')
            time.sleep(0.5)
        print(f'\nJupyterLab up in {time.time() - t0:.1f}s on {base}')
        yield base, token, log
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()

# The text of the viewer's output (slider aside), and of the kernel's print in the second cell
_VIEWER_TEXT = """() => {
  const h = document.querySelector('.widget-slider .noUi-handle');
  const out = h && h.closest('.jp-OutputArea-output');
  if (!out) return null;
  const c = out.cloneNode(true); c.querySelectorAll('.widget-slider').forEach(s => s.remove()); return c.innerText;
}"""
_ERRORS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
  .map(e => e.innerText).join('\\n')"""
_PRINTED = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(e => e.innerText)
  .filter(t => t.startsWith('kernel')).join('\\n')"""
_STEPPER_TEXT = """() => { const b = Array.from(document.querySelectorAll('.jp-OutputArea-output button')).find(b => b.innerText.trim() === 'Step');
  const out = b && b.closest('.jp-OutputArea-output'); return out ? out.innerText : null; }"""

def _open(page, base:str, token:str, name:str):
    "Open notebook `name` in JupyterLab and wait for its kernel."
    page.goto(f'{base}/lab/tree/{name}?reset&token={token}')  # reset: no tabs restored from an earlier test
    page.wait_for_function('() => window.jupyterapp && document.querySelector(".jp-Notebook .jp-Cell")', timeout=90_000)
    page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; }""", timeout=90_000)

def _run_cell(page, index:int):
    page.evaluate("""async (i) => { const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = i; await window.jupyterapp.commands.execute('notebook:run-cell'); }""", index)

def _until(page, js:str, ok, timeout:float, what:str, log:Path, shot:str='jupyterlab-run-viewer-failed.png'):
    "Poll `js` in the page until `ok(value)`; fail with the page's error outputs and JupyterLab's log otherwise."
    t0 = time.time()
    while True:
        v = page.evaluate(js)
        if ok(v): return v
        errors = page.evaluate(_ERRORS)
        if 'Error' in errors or time.time() - t0 > timeout:
            SHOTS.mkdir(exist_ok=True); page.screenshot(path=SHOTS/shot)
            pytest.fail(f'{what}: not seen after {time.time() - t0:.0f}s (last value {v!r}).\nError output in the notebook:\n'
                        f'{errors or "(none)"}\nJupyterLab log (tail):\n{log.read_text()[-3000:]}\n'
                        f'screenshot: {SHOTS/shot}')
        page.wait_for_timeout(250)

def test_run_viewer_in_jupyterlab(lab):
    assert LOG.exists(), f'{LOG} is missing: it is committed with nbs/12_widgets.ipynb'
    base, token, log = lab
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={'width': 1280, 'height': 1000})
        t0 = time.time()
        _open(page, base, token, 'viewer.ipynb')
        print(f'notebook open in {time.time() - t0:.1f}s')
        t1 = time.time()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        before = _until(page, _VIEWER_TEXT, lambda t: bool(t) and 'step 1:' in t, KERNEL_WAIT, 'the RunViewer showing step 1', log)
        _until(page, _PRINTED, lambda t: 'kernel sees step 1, panel 1' in t, 60, "the kernel's step 1", log)
        print(f'cells run and the viewer drawn in {time.time() - t1:.1f}s')
        handle = page.locator('.widget-slider .noUi-handle').first
        handle.focus()
        page.keyboard.press('ArrowRight')
        after = _until(page, _VIEWER_TEXT, lambda t: t != before, 10, 'a new panel after ArrowRight', log)
        assert 'step 2:' in after and 'step 1:' not in after, after[:300]
        # the kernel got the new value through the widget comm: run the second cell again
        _run_cell(page, 1)
        _until(page, _PRINTED, lambda t: 'kernel sees step 2, panel 2' in t, 60, "the kernel's step 2", log)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SHOTS/'jupyterlab-run-viewer.png', full_page=True)
        handle.focus()
        page.keyboard.press('ArrowLeft')
        back = _until(page, _VIEWER_TEXT, lambda t: t == before, 10, 'the first panel again after ArrowLeft', log)
        assert back == before
        browser.close()
    print(f'total {time.time() - t0:.1f}s; screenshot {SHOTS/"jupyterlab-run-viewer.png"}')

@pytest.mark.slow  # a live optimization step in JupyterLab (about a minute); the RunViewer test above covers rendering
def test_stepper_in_jupyterlab(lab):
    "Step clicked in the page: the stage in progress shows, the kernel answers meanwhile, the step's panels arrive."
    base, token, log = lab
    from playwright.sync_api import sync_playwright
    shot = 'jupyterlab-stepper-failed.png'
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={'width': 1280, 'height': 1400})
        t0 = time.time()
        _open(page, base, token, 'stepper.ipynb')
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _until(page, _STEPPER_TEXT, lambda t: bool(t) and 'ready: the initial prompt' in t, KERNEL_WAIT, 'the stepper, ready', log, shot)
        _until(page, _PRINTED, lambda t: 'busy=False steps=0' in t, 60, 'the kernel, idle', log, shot)
        print(f'\nstepper ready in {time.time() - t0:.1f}s')
        t1 = time.time()
        page.locator('.jp-OutputArea-output button', has_text='Step').first.click()
        _run_cell(page, 1)  # right away: the step runs in a thread, so the kernel answers while it runs
        printed = _until(page, _PRINTED, lambda t: 'steps=0' in t and 'busy=False' not in t or 'steps=1' in t, 60, 'the kernel, stepping', log, shot)
        assert 'busy=True steps=0' in printed, f'the kernel did not answer while the step ran: {printed!r}'
        _until(page, _STEPPER_TEXT, lambda t: '⟳' in t or 'ready: 1 step done' in t, 60, 'a stage in progress', log, shot)
        text = _until(page, _STEPPER_TEXT, lambda t: 'ready: 1 step done' in t, KERNEL_WAIT, 'the step done', log, shot)
        assert 'step 1:' in text and 'the top-μ=3 candidates' in text and 'after the step' in text, text[:500]
        imgs = page.evaluate("""() => { const b = Array.from(document.querySelectorAll('.jp-OutputArea-output button')).find(b => b.innerText.trim() === 'Step');
            return Array.from(b.closest('.jp-OutputArea-output').querySelectorAll('img')).map(i => i.naturalWidth); }""")
        assert len(imgs) == 2 and all(imgs), imgs  # the gradient bars and the loss curves
        _run_cell(page, 1)
        _until(page, _PRINTED, lambda t: 'busy=False steps=1' in t, 60, 'the kernel, after the step', log, shot)
        print(f'one step through the page in {time.time() - t1:.1f}s')
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SHOTS/'jupyterlab-stepper.png')
        browser.close()
