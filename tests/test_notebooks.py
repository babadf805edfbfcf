"""Run every notebook in nbs/ under pytest, the way `nbdev-test` would (one test per notebook).

Cells flagged with a `tst_flags` flag from `[tool.nbdev]` (`slow`, `gpu`) are skipped, except:
- `gpu` cells run when `torch.cuda.is_available()`;
- `slow` cells run when the environment has `GREATER_NB_SLOW=1`.
A failing notebook's traceback is part of the pytest failure message.

Each notebook runs in a fresh Python process: notebooks load models, and memory an executed notebook held is only
returned when its process ends (run in one process, a full test session grew past 10 GiB). Under pytest-xdist
each process inherits its worker's share of the cores (`OMP_NUM_THREADS`, set in tests/conftest.py).
"""
import json, os, re, resource, subprocess, sys, time
from pathlib import Path
import pytest
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parents[1]
CFG = get_config(ROOT)
NBS, LIB = Path(CFG.nbs_path), Path(CFG.lib_path)
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))  # what `nbdev-test` does with `basepath`

def _notebooks() -> list[Path]:
    "Every notebook under nbs/, sorted (Jupyter's `.ipynb_checkpoints` copies aside)."
    return sorted(p for p in NBS.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)

NOTEBOOKS = _notebooks()

def _flags() -> tuple[list[str], list[str]]:
    "(skip_flags, force_flags) for `test_nb`: the configured `tst_flags`, minus what this machine can run."
    skip = CFG.tst_flags.split() if isinstance(CFG.tst_flags, str) else list(CFG.tst_flags or [])
    force = []
    if os.environ.get('GREATER_NB_SLOW') == '1': force.append('slow')
    import torch
    if torch.cuda.is_available(): force.append('gpu')
    return skip, force

_RUN = """
import sys
from nbdev.test import test_nb
ok, secs = test_nb(sys.argv[1], skip_flags=sys.argv[2].split(), force_flags=sys.argv[3].split(), showerr=True,
                   basepath=sys.argv[4], cell_timeout=float(sys.argv[5]) if sys.argv[5] != 'None' else None)
sys.exit(0 if ok else 1)
"""

def _run(nb:Path, **env_extra):
    skip, force = _flags()
    env = {**os.environ, **env_extra}
    t, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, '-c', _RUN, str(nb), ' '.join(skip), ' '.join(force), str(ROOT), str(CFG.get('cell_timeout') or None)],
                       capture_output=True, text=True, env=env, cwd=nb.parent)
    if os.environ.get('GREATER_NB_TIMES'):   # wall and CPU seconds per notebook, to size `make test` on a loaded machine
        end = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(os.environ['GREATER_NB_TIMES'], 'a') as f:
            f.write(json.dumps(dict(nb=str(nb.relative_to(NBS)), wall=round(time.perf_counter() - t, 1),
                                    cpu=round(end.ru_utime + end.ru_stime - cpu.ru_utime - cpu.ru_stime, 1))) + '\n')
    if r.returncode != 0:
        pytest.fail(f"{nb.name} failed (skipped flags: {sorted(set(skip)-set(force))}, forced: {force}, env: {env_extra})\n"
                    f"{r.stderr[-20000:]}", pytrace=False)

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(NBS)) for p in NOTEBOOKS])
def test_notebook(nb): _run(nb)

# The notebooks that load the model with `dtype='auto'` take bf16 on a CPU with native bf16 and float32 elsewhere, so a
# machine tests only one of the two paths. These run a second time as the other kind of CPU would (GREATER_NB_CPU_BF16,
# notebook 01): on any machine, CI exercises both. Demonstrations that must reproduce pin float32 and are not among them,
# nor are notebooks whose only such call is in a cell this run skips (a `slow` cell, outside `make test-slow`).
def _runs_auto_dtype(nb:Path, skip:list[str], force:list[str]) -> bool:
    "Does a cell of `nb` that `test_nb` runs under these flags call `load_model()` (dtype 'auto')?"
    from nbdev.process import NBProcessor
    from nbdev.test import _skip_cell   # test_nb's own predicate, so this list follows its rules (flags, `eval: false`)
    book = NBProcessor(nb, rm_directives=False, process=True).nb   # as test_nb reads it
    skipped = _skip_cell(book, skip, force)
    return any(not skipped(c) and re.search(r'load_model\(\)', c.source) for c in book.cells)

_FLAGS = _flags()
AUTO_DTYPE = [nb for nb in NOTEBOOKS if _runs_auto_dtype(nb, *_FLAGS)]

@pytest.mark.parametrize('nb', AUTO_DTYPE, ids=[str(p.relative_to(NBS)) for p in AUTO_DTYPE])
def test_notebook_as_the_other_cpu_kind(nb):
    from greater_nb.models import cpu_has_bf16, CPU_BF16_ENV
    _run(nb, **{CPU_BF16_ENV: '0' if cpu_has_bf16() else '1'})

def test_both_dtype_paths_are_exercised():
    "Some notebook loads with dtype='auto' (else the test above runs nothing), and the override flips what auto picks."
    assert AUTO_DTYPE, "no notebook calls load_model() with dtype='auto'"
    code = "from greater_nb.models import resolve_dtype; print(resolve_dtype('auto', 'cpu'))"
    got = {v: subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                             env={**os.environ, 'GREATER_NB_CPU_BF16': v}).stdout.strip() for v in '01'}
    assert got == {'0': 'torch.float32', '1': 'torch.bfloat16'}, got

def test_every_notebook_is_tested():
    "The parametrization above is every notebook on disk: none skipped silently."
    assert NOTEBOOKS, f'no notebooks found under {NBS}'
    on_disk = sorted(p for p in NBS.glob('**/*.ipynb') if not any(s.startswith('.') for s in p.relative_to(NBS).parts))
    assert NOTEBOOKS == on_disk
    assert NBS/'index.ipynb' in NOTEBOOKS

def test_every_module_has_a_notebook():
    "Each exported module names its source notebook ('File to edit: ../nbs/XX.ipynb'), and that notebook exists."
    mods = sorted(p for p in LIB.rglob('*.py') if p.name not in ('__init__.py', '_modidx.py') and '__pycache__' not in p.parts)
    assert mods, f'no modules in {LIB}'
    missing = []
    for m in mods:
        hit = re.search(r'File to edit: (\S+?\.ipynb)', m.read_text(encoding='utf-8'))
        src = (m.parent/hit.group(1)).resolve() if hit else None
        if src is None or src not in NOTEBOOKS: missing.append(f"{m.relative_to(ROOT)} -> {hit.group(1) if hit else 'no header'}")
    assert not missing, 'modules without a source notebook:\n' + '\n'.join(missing)
