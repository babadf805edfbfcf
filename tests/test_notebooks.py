"""Run every notebook in nbs/ under pytest, the way `nbdev-test` would (one test per notebook).

Cells flagged with a `tst_flags` flag from `[tool.nbdev]` (`slow`, `gpu`) are skipped, except:
- `gpu` cells run when `torch.cuda.is_available()`;
- `slow` cells run when the environment has `GREATER_NB_SLOW=1`.
A failing notebook's traceback is part of the pytest failure message.
"""
import os, re, signal, sys
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb  # aliased: a module-level `test_nb` would be collected as a test

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

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[str(p.relative_to(NBS)) for p in NOTEBOOKS])
def test_notebook(nb, capfd):
    skip, force = _flags()
    sigint = signal.getsignal(signal.SIGINT)  # run_nb installs a SIGINT handler that os._exit()s; put pytest's back
    try: ok, secs = run_nb(nb, skip_flags=skip, force_flags=force, showerr=True, cell_timeout=CFG.get('cell_timeout') or None)
    finally: signal.signal(signal.SIGINT, sigint)
    sys.__stderr__.flush()  # run_nb writes the notebook's traceback to sys.__stderr__ (fd 2): capfd catches it
    out, err = capfd.readouterr()
    if not ok:
        pytest.fail(f"{nb.name} failed (skipped flags: {sorted(set(skip)-set(force))}, forced: {force})\n{err}", pytrace=False)

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
