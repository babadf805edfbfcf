"""Render `nbs/index.ipynb` to `README.md` without Quarto (the README is the project's home page).

Usage: python tools/make_readme.py [--check]
- markdown cells are copied verbatim;
- code cells become ```python fences, followed by their text outputs (streams, `text/plain`) in ``` fences;
- code cells whose source starts with `#| hide` are left out, `#| echo: false` cells show their outputs alone, other
  `#| ` directive lines are stripped;
- raw cells (e.g. a Quarto YAML front matter block) are left out.
`--check` exits 1, writing nothing, when README.md differs from the rendering.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB, README = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
_DIRECTIVE = re.compile(r'^\s*#\|')

def _text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

def _fence(body:str, lang:str='') -> str:
    "A fenced block, with a fence longer than any backtick run inside `body`."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', body)])
    return f"{'`'*n}{lang}\n{body.rstrip()}\n{'`'*n}"

def _outputs(cell) -> list[str]:
    "The text of a code cell's outputs, in order: stream text (consecutive chunks joined) and `text/plain` results."
    res, prev_stream = [], False
    for o in cell.get('outputs', []):
        kind = o.get('output_type')
        if kind == 'stream':
            t = _text(o.get('text'))
            if prev_stream: res[-1] += t
            else: res.append(t)
            prev_stream = True
        elif kind in ('execute_result', 'display_data'):
            t = _text(o.get('data', {}).get('text/plain'))
            if t: res.append(t)
            prev_stream = False
    return [t for t in res if t.strip()]

def render_cell(cell) -> str | None:
    src = _text(cell.get('source')).rstrip()
    if cell['cell_type'] == 'markdown': return src or None
    if cell['cell_type'] != 'code': return None
    lines = src.splitlines()
    if lines and re.match(r'^\s*#\|\s*hide\b', lines[0]): return None
    code = '\n'.join(l for l in lines if not _DIRECTIVE.match(l)).strip('\n')
    if not code.strip(): return None
    echo = not any(re.match(r'^\s*#\|\s*echo:\s*false\b', l) for l in lines)   # `#| echo: false`: the output alone
    return '\n\n'.join(([_fence(code, 'python')] if echo else []) + [_fence(o) for o in _outputs(cell)]) or None

def render(nb_path:Path=NB) -> str:
    "The README text for the notebook at `nb_path` (deterministic: depends only on the notebook's cells)."
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    parts = [p for p in (render_cell(c) for c in nb['cells']) if p]
    return '\n\n'.join(parts) + '\n'

def main(args):
    text = render()
    if '--check' in args:
        if README.read_text(encoding='utf-8') != text: sys.exit('README.md is stale: run `make readme`')
        return
    README.write_text(text, encoding='utf-8')
    print(f'wrote {README.relative_to(ROOT)} from {NB.relative_to(ROOT)}')

if __name__ == '__main__': main(sys.argv[1:])
