"""The notebooks teach in small steps: exported cells of about ten lines, each public definition explained and tested.

A cell's size is its code lines: not blank, not an nbdev directive (`#| ...`). Comment lines count (a reader reads them).
"""
import json, re, statistics
from pathlib import Path

NBS = Path(__file__).resolve().parents[1]/'nbs'
MEDIAN, MAX = 10, 40          # the project's convention for exported cells
DEFINES_PUBLIC = re.compile(r'^(?:async\s+)?(?:def|class)\s+[A-Za-z]', re.M)
TESTS = re.compile(r'\b(?:test_\w+|assert)\b')

def _cells(nb:Path) -> list[dict]: return json.loads(nb.read_text(encoding='utf-8'))['cells']
def _src(c:dict) -> str: return ''.join(c['source'])
def is_export(c:dict) -> bool: return c['cell_type'] == 'code' and bool(re.search(r'^#\|\s*export\b', _src(c), re.M))
def size(c:dict) -> int: return sum(1 for l in _src(c).splitlines() if l.strip() and not l.startswith('#|'))

def exported() -> list[tuple[str, int, int]]:
    "(notebook, cell index, size) of every exported cell of every notebook."
    return [(str(nb.relative_to(NBS)), i, size(c)) for nb in sorted(NBS.rglob('*.ipynb')) if '.ipynb_checkpoints' not in nb.parts
            for i, c in enumerate(_cells(nb)) if is_export(c)]

def unexplained(nb:Path) -> list[int]:
    "Exported cells defining a public name with no markdown or no test before the next exported cell."
    cs, bad = _cells(nb), []
    for i, c in enumerate(cs):
        if not (is_export(c) and DEFINES_PUBLIC.search(_src(c))): continue
        rest = []
        for d in cs[i+1:]:
            if is_export(d): break
            rest.append(d)
        if not (any(d['cell_type'] == 'markdown' for d in rest) and any(d['cell_type'] == 'code' and TESTS.search(_src(d)) for d in rest)):
            bad.append(i)
    return bad

def test_the_checks_can_fail():
    md = lambda s: dict(cell_type='markdown', source=[s])
    code = lambda s: dict(cell_type='code', source=[s])
    assert size(code('#| export\ndef f(x):\n\n    # why\n    return x')) == 3
    assert not is_export(code('x = 1  #| export'))
    nb = NBS.parent/'build'/'style_probe.ipynb'
    nb.parent.mkdir(exist_ok=True)
    nb.write_text(json.dumps(dict(cells=[code('#| export\ndef f(): pass'), md('why'), code('f()'),
                                         code('#| export\ndef _g(): pass'),
                                         code('#| export\ndef h(): pass'), md('why'), code('test_eq(h(), None)')])))
    try: assert unexplained(nb) == [0]
    finally: nb.unlink()

def test_exported_cells_are_small():
    cells = exported()
    sizes = [n for *_, n in cells]
    big = [f'{nb} cell {i}: {n} lines' for nb, i, n in cells if n > MAX]
    assert not big, f'exported cells over {MAX} lines: {big}'
    assert statistics.median(sizes) <= MEDIAN, f'median exported cell is {statistics.median(sizes)} lines (over {MEDIAN})'

def test_every_public_definition_is_explained_and_tested():
    bad = {str(nb.relative_to(NBS)): b for nb in sorted(NBS.rglob('*.ipynb')) if (b := unexplained(nb))}
    assert not bad, f'exported public definitions without a sentence and a test after them (notebook: cell indices): {bad}'
