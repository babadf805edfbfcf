"""Serve a built docs site on 127.0.0.1 and check it in headless Chromium (used by tests/test_docs.py).

`crawl` opens every page reachable from the home page and reports, as one list of problems:
- a page, link target or asset that does not answer 200 (every `<a href>` inside the site is followed: pages are
  crawled, other files fetched; a link's `#fragment` must name an element of its page);
- an `<img>` that has not loaded (`naturalWidth == 0`), or a figure in an output whose alt text is missing or a file
  name (what MyST-NB writes when it is given none);
- math left as TeX: a `.math` element that MathJax did not typeset, a MathJax error, or `$...$` / `\\(...\\)` text
  outside code;
- a widget snapshot (`application/vnd.jupyter.widget-view+json`) that did not render;
- a console error or an uncaught exception;
- any request for a host other than 127.0.0.1 (aborted, so the check works without a network);
- with `pages_url` (the site's published address, the pyproject's Documentation URL): every `href` and `src` as
  written in the page, resolved against the page's address on Pages (the browser's own `a.href` repairs some broken
  forms, such as `https:/github.com/...`, and a local server at `/` hides links that climb above the site's folder):
  a malformed absolute URL, a link that leaves the site's folder, or one into the site that is missing;
- an id used twice on one page (Sphinx's search summaries throw on them);
- progress-bar or warning text in a cell's output (`100%|####| 272/272`, `UserWarning: ...`).
`contrast_problems(page)` lists text in the widgets that is hard to read (contrast below 3:1 against the background it
is drawn on, as WCAG computes it); the tests call it in the dark colour scheme too.
"""
import functools, http.server, os, re, sys, threading, time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
# Headless as root on a machine with a closed network: without the background-networking flags Chromium's own
# connections (updates, sync, safe browsing) are refused, and some show up as page errors.
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
LOCAL_HOST = '127.0.0.1'

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

class _Httpd(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        "A browser that drops a connection it no longer needs is not an error; anything else prints its traceback."
        if isinstance(sys.exc_info()[1], ConnectionError): return
        super().handle_error(request, client_address)

class Server:
    "`with Server(folder) as url:` serves `folder` at `url` (http://127.0.0.1:PORT/) from a thread."
    def __init__(self, folder): self.folder = str(folder)
    def __enter__(self):
        self.httpd = _Httpd((LOCAL_HOST, 0), functools.partial(_Quiet, directory=self.folder))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f'http://{LOCAL_HOST}:{self.httpd.server_address[1]}/'
    def __exit__(self, *exc):
        self.httpd.shutdown(); self.httpd.server_close()

def launch(playwright):
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f'{CHROMIUM} is missing: `make setup` installs Debian\'s chromium (or set CHROMIUM=...)')
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

def local_only(context, outside:list):
    "Abort every request that leaves 127.0.0.1 and record its URL in `outside`."
    def handle(route):
        url = route.request.url
        if urlparse(url).scheme in ('http', 'https', 'ws', 'wss') and urlparse(url).hostname != LOCAL_HOST:
            outside.append(url); route.abort()
        else: route.continue_()
    context.route('**/*', handle)

_SETTLE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  for (let t = 0; t < 100 && Array.from(views).some(s => !s.parentElement.querySelector('.jupyter-widgets')); t++)
    await new Promise(r => setTimeout(r, 50));
}"""

_INSPECT = r"""() => {
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight';
  const rawTex = /\$\$[^$]+\$\$|\$[^\s$][^$\n]*[^\s$\\]\$|\$[^\s$]\$|\\\(|\\\[/;
  const texts = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode())
    if (!n.parentElement.closest(skip) && rawTex.test(n.textContent)) texts.push(n.textContent.trim().slice(0, 80));
  const math = Array.from(document.querySelectorAll('.math'));
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const noise = /\d+%\|[^|\n]*\|\s*\d+\/\d+|\b\w*Warning: /;
  return {
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    rawRefs: Array.from(document.querySelectorAll('a[href], link[href]')).map(e => e.getAttribute('href')).concat(
             Array.from(document.querySelectorAll('img[src], script[src]')).map(e => e.getAttribute('src'))),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
    badAlt: Array.from(document.querySelectorAll('.cell_output img')).filter(i => !i.closest('.jupyter-widgets'))
             .map(i => i.getAttribute('alt') || '').filter(a => !a.trim() || /\.(png|jpe?g|gif|svg)$/i.test(a)),
    noise: Array.from(document.querySelectorAll('.cell_output')).flatMap(o => o.innerText.split('\n'))
             .filter(l => noise.test(l)).map(l => l.trim().slice(0, 100)),
    images: Array.from(document.images).map(i => [i.currentSrc || i.src, i.naturalWidth]),
    math: math.length,
    untypeset: math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80)),
    mathErrors: document.querySelectorAll('mjx-merror').length,
    rawTex: texts,
    widgets: views.length,
    unrendered: views.filter(s => !s.parentElement.querySelector('.jupyter-widgets')).length,
  };
}"""

@dataclass
class Report:
    pages: dict = field(default_factory=dict)    # path -> what _INSPECT found there
    problems: list = field(default_factory=list)
    outside: list = field(default_factory=list)  # requests that left 127.0.0.1

_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')

def pages_problems(page:str, refs:list, pages_url:str, exists) -> list[str]:
    """What is wrong with the references `refs` (as written) of `page` (its path in the site) once the site is served at
    `pages_url`; `exists(path)` says whether the site has the file `path`."""
    res, here = [], urljoin(pages_url, page)
    for ref in refs:
        if not ref or ref.startswith('#'): continue
        if _SCHEME.match(ref):
            scheme = ref.split(':', 1)[0].lower()
            if scheme in ('http', 'https') and not re.match(r'^https?://[^/\s]+', ref, re.I):
                res.append(f'malformed URL on {page}: {ref}')
            if scheme not in ('http', 'https') or not ref.startswith(pages_url): continue
        url = urldefrag(urljoin(here, ref))[0].split('?')[0]
        if not url.startswith(pages_url):
            res.append(f'leaves the site on Pages: {ref} on {page} resolves to {url}'); continue
        path = url[len(pages_url):]
        if path == '' or path.endswith('/'): path += 'index.html'
        if not exists(path): res.append(f'missing on Pages: {ref} on {page} resolves to {url}')
    return res

def crawl(browser, base:str, start:str='index.html', max_pages:int=1000, pages_url:str|None=None,
          site_dir:Path|None=None) -> Report:
    """Open every page of the site at `base` reachable from `start`; see the module docstring for what is checked.
    With `pages_url` and `site_dir` (the folder served at `base`), references are checked as they resolve on Pages."""
    rep = Report()
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    local_only(context, rep.outside)
    page = context.new_page()
    where = ['']
    page.on('console', lambda m: m.type == 'error' and rep.problems.append(f'console error on {where[0]}: {m.text}'))
    page.on('pageerror', lambda e: rep.problems.append(f'uncaught exception on {where[0]}: {e}'))
    page.on('response', lambda r: r.status >= 400 and rep.problems.append(f'{r.status} for {r.url} (loaded by {where[0]})'))
    rel = lambda url: url[len(base):] if url.startswith(base) else url
    todo, seen, fragments, assets = [urljoin(base, start)], set(), [], {}
    while todo and len(seen) < max_pages:
        url = todo.pop(0)
        if url in seen: continue
        seen.add(url); where[0] = rel(url)
        resp = page.goto(url, wait_until='load')
        if resp is None or resp.status != 200:
            rep.problems.append(f'{resp.status if resp else "no response"} for page {rel(url)}'); continue
        page.evaluate(_SETTLE)
        info = page.evaluate(_INSPECT)
        rep.pages[rel(url)] = info
        for src, width in info['images']:
            if not width: rep.problems.append(f'image not loaded on {rel(url)}: {rel(src)}')
        for t in info['untypeset']: rep.problems.append(f'math not typeset on {rel(url)}: {t}')
        if info['mathErrors']: rep.problems.append(f'{info["mathErrors"]} MathJax errors on {rel(url)}')
        for t in info['rawTex']: rep.problems.append(f'raw TeX on {rel(url)}: {t}')
        if info['unrendered']: rep.problems.append(f'{info["unrendered"]} widget snapshot(s) not rendered on {rel(url)}')
        dups = sorted({i for i in info['ids'] if i and info['ids'].count(i) > 1})
        if dups: rep.problems.append(f'{len(dups)} duplicate id(s) on {rel(url)}: {", ".join(dups[:5])}')
        for a in info['badAlt']: rep.problems.append(f'figure without alt text on {rel(url)}: {a!r}')
        for t in info['noise']: rep.problems.append(f'progress bar or warning in an output on {rel(url)}: {t}')
        if pages_url and site_dir:
            page_path = urlparse(url).path.lstrip('/')
            rep.problems += pages_problems(page_path, info['rawRefs'], pages_url, lambda p: (Path(site_dir)/p).is_file())
        for link in info['links']:
            target, frag = urldefrag(link)
            if not target.startswith(base): continue
            if frag: fragments.append((rel(url), target, frag))
            path = urlparse(target).path
            if path.endswith(('.html', '/')): todo.append(target)
            else: assets.setdefault(target, rel(url))
    for target, origin in assets.items():
        r = context.request.get(target)
        if r.status != 200: rep.problems.append(f'{r.status} for {rel(target)} (linked from {origin})')
    for origin, target, frag in fragments:
        ids = rep.pages.get(rel(target), {}).get('ids')
        if ids is not None and frag not in ids: rep.problems.append(f'no #{frag} on {rel(target)} (linked from {origin})')
    rep.problems += [f'request left {LOCAL_HOST}: {u}' for u in rep.outside]
    context.close()
    return rep

_CONTRAST = r"""sel => {
  const rgba = c => (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
  const lum = c => { const [r, g, b] = rgba(c).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const alpha = c => { const v = rgba(c); return c.startsWith('rgba') ? v[3] : 1; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; if (alpha(c) > 0.5) return c; }
                     return 'rgb(255, 255, 255)'; };
  const bad = [];
  document.querySelectorAll(sel).forEach(root => {
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement, text = n.textContent.trim();
      if (!text || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
      const fg = getComputedStyle(el).color, back = bg(el), a = lum(fg), b = lum(back);
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 3) bad.push(`${text.slice(0, 40)}: ${fg} on ${back} (${ratio.toFixed(1)}:1)`);
    }
  });
  return bad;
}"""

def contrast_problems(page, selector:str='.cell_output .jupyter-widgets') -> list[str]:
    "Text under `selector` drawn with a contrast below 3:1 against its background (WCAG's minimum for large text)."
    return page.evaluate(_CONTRAST, selector)

_WIDGET_TEXT = """() => Array.from(document.querySelectorAll('.widget-subarea')).map(a => {
  const c = a.cloneNode(true); c.querySelectorAll('.widget-slider').forEach(s => s.remove()); return c.innerText;
}).join('\\n')"""

def _text_until(page, ok, timeout:float=5.0) -> str:
    "The widgets' text (sliders aside) once `ok(text)` holds, or after `timeout` seconds."
    t0 = time.time()
    while True:
        text = page.evaluate(_WIDGET_TEXT)
        if ok(text) or time.time() - t0 > timeout: return text
        page.wait_for_timeout(50)

def slider_moves_panel(page) -> tuple[str, str, str]:
    """Move the first widget slider on `page` one step right with the keyboard, then back; return the text the
    widgets show (sliders aside) before, after the step, and after the step back."""
    handle = page.locator('.widget-slider .noUi-handle').first
    handle.wait_for(state='visible', timeout=10_000)
    before = page.evaluate(_WIDGET_TEXT)
    handle.focus(); page.keyboard.press('ArrowRight')
    after = _text_until(page, lambda t: t != before)
    page.keyboard.press('ArrowLeft')
    return before, after, _text_until(page, lambda t: t == before)
