"""Render `nbs/index.ipynb` to `README.md` without Quarto (the README is the project's home page).

Usage: python tools/make_readme.py [--check]
- markdown cells are copied verbatim;
- code cells become ```python fences, followed by their text outputs (streams, `text/plain`) in ``` fences;
- code cells whose source starts with `#| hide` are left out, `#| echo: false` cells show their outputs alone, other
  `#| ` directive lines are stripped;
- raw cells (e.g. a Quarto YAML front matter block) are left out;
- figures (`image/png` outputs) are written to `images/readme/<cell id>-<n>.png` and shown with the first sentence of
  the Markdown cell before them as alt text.
`--check` exits 1, writing nothing, when README.md or a figure differs from the rendering.
"""
import base64, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB, README, IMAGES = ROOT/'nbs'/'index.ipynb', ROOT/'README.md', ROOT/'images'/'readme'
_DIRECTIVE = re.compile(r'^\s*#\|')

def _text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

def _fence(body:str, lang:str='') -> str:
    "A fenced block, with a fence longer than any backtick run inside `body`."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', body)])
    return f"{'`'*n}{lang}\n{body.rstrip()}\n{'`'*n}"

def _figures(cell) -> list[tuple[str, bytes]]:
    "`(file name, PNG bytes)` of each figure a code cell shows, in order."
    pngs = [o['data']['image/png'] for o in cell.get('outputs', []) if 'image/png' in o.get('data', {})]
    return [(f"{cell.get('id', 'cell')}-{k}.png", base64.b64decode(_text(b))) for k, b in enumerate(pngs)]

def _alt(md:str|None) -> str:
    "The first sentence of a Markdown cell, without link targets or Markdown marks: a figure's alt text."
    text = re.sub(r'\s+', ' ', re.sub(r'[`*_#>|]', '', re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', md or ''))).strip()
    return re.split(r'(?<=[.!?:])\s', text, maxsplit=1)[0].rstrip(':') or 'Figure'

def _outputs(cell) -> list[str]:
    "The text of a code cell's outputs, in order: stream text (consecutive chunks joined) and `text/plain` results of non-figures."
    res, prev_stream = [], False
    for o in cell.get('outputs', []):
        kind = o.get('output_type')
        if kind == 'stream':
            t = _text(o.get('text'))
            if prev_stream: res[-1] += t
            else: res.append(t)
            prev_stream = True
        elif kind in ('execute_result', 'display_data') and 'image/png' not in o.get('data', {}):
            t = _text(o.get('data', {}).get('text/plain'))
            if t: res.append(t)
            prev_stream = False
    return [t for t in res if t.strip()]

def render_cell(cell, before:str|None=None) -> str | None:
    "A cell's Markdown in the README; `before` is the Markdown cell before it (a figure's alt text)."
    src = _text(cell.get('source')).rstrip()
    if cell['cell_type'] == 'markdown': return src or None
    if cell['cell_type'] != 'code': return None
    lines = src.splitlines()
    if lines and re.match(r'^\s*#\|\s*hide\b', lines[0]): return None
    code = '\n'.join(l for l in lines if not _DIRECTIVE.match(l)).strip('\n')
    if not code.strip(): return None
    echo = not any(re.match(r'^\s*#\|\s*echo:\s*false\b', l) for l in lines)   # `#| echo: false`: the output alone
    figs = [f"![{_alt(before)}]({IMAGES.relative_to(ROOT).as_posix()}/{name})" for name, _ in _figures(cell)]
    return '\n\n'.join(([_fence(code, 'python')] if echo else []) + [_fence(o) for o in _outputs(cell)] + figs) or None

def _rendered(nb_path:Path=NB) -> list[tuple[dict, str]]:
    "`(cell, its Markdown in the README)` for every cell the README shows; a figure's alt text is the Markdown cell before it."
    out, before = [], None
    for c in json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells']:
        if md := render_cell(c, before): out.append((c, md))
        if c['cell_type'] == 'markdown': before = _text(c['source'])
    return out

def render(nb_path:Path=NB) -> str:
    "The README text for the notebook at `nb_path` (deterministic: depends only on the notebook's cells)."
    return '\n\n'.join(md for _, md in _rendered(nb_path)) + '\n'

def figures(nb_path:Path=NB) -> dict[str, bytes]:
    "`{file name under images/readme: PNG bytes}` of every figure the README shows."
    return {name: png for c, _ in _rendered(nb_path) for name, png in _figures(c)}

def stale_figures(nb_path:Path=NB) -> list[str]:
    "Names under images/readme that are missing, different or no longer shown."
    want = figures(nb_path)
    have = {p.name: p.read_bytes() for p in IMAGES.glob('*.png')} if IMAGES.exists() else {}
    return sorted(n for n in set(want) | set(have) if want.get(n) != have.get(n))

def main(args):
    text = render()
    if '--check' in args:
        if README.read_text(encoding='utf-8') != text: sys.exit('README.md is stale: run `make readme`')
        if stale := stale_figures(): sys.exit(f"README figures are stale ({', '.join(stale)}): run `make readme`")
        return
    want = figures()
    IMAGES.mkdir(parents=True, exist_ok=True)
    for p in IMAGES.glob('*.png'):
        if p.name not in want: p.unlink()
    for name, png in want.items():
        if not (IMAGES/name).exists() or (IMAGES/name).read_bytes() != png: (IMAGES/name).write_bytes(png)
    README.write_text(text, encoding='utf-8')
    print(f'wrote {README.relative_to(ROOT)} from {NB.relative_to(ROOT)}')

if __name__ == '__main__': main(sys.argv[1:])
