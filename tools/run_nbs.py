"""Execute notebooks top to bottom, slow cells included, and save their outputs (what the docs show).

Usage: python tools/run_nbs.py [NOTEBOOK ...]   (default: every notebook in nbs/)
GPU-only cells (`#| gpu`) run only where CUDA is available.
"""
import sys, time
from pathlib import Path
import torch
from nbdev.test import test_nb
from nbdev.clean import nbdev_clean

def main(paths):
    root = Path(__file__).resolve().parents[1]
    nbs = [Path(p) for p in paths] or sorted(p for p in (root/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    skip = [] if torch.cuda.is_available() else ['gpu']
    failed = []
    for nb in nbs:
        t = time.time()
        ok, _ = test_nb(nb.resolve(), skip_flags=skip, force_flags=["slow"], save=True, basepath=root, cell_timeout=None)
        print(f"{'ok    ' if ok else 'FAILED'} {nb.name} ({time.time()-t:.0f}s)", flush=True)
        if not ok: failed.append(nb.name)
    nbdev_clean.__wrapped__() if hasattr(nbdev_clean, '__wrapped__') else nbdev_clean()
    if failed: sys.exit(f"failed: {' '.join(failed)}")

if __name__ == '__main__': main(sys.argv[1:])
