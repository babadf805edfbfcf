"""Execute notebooks top to bottom, slow cells included, and save their outputs (what the docs show).

Usage: python tools/run_nbs.py [--skip-slow] [NOTEBOOK ...]   (default: every notebook in nbs/)
GPU-only cells (`#| gpu`) run only where CUDA is available. `--skip-slow` leaves `#| slow` cells out: the ablation
notebooks' slow cells run the full studies (hours; `tools/run_studies.py` runs them in the background), and their
results sections read the committed results, so they are executed with `--skip-slow`.
A notebook that displays ipywidgets is saved with their state in its metadata (`widgets`), as Jupyter's "save widget
state" does: the docs site embeds it, so the widgets work on the static page without a kernel.
"""
import sys, time
from pathlib import Path
import torch
from fastcore.nbio import read_nb, write_nb
from nbdev.test import test_nb
from nbdev.clean import nbdev_clean

WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'

def run_nb(nb:Path, root:Path, skip:list, force:list=["slow"]) -> bool:
    "Execute `nb` and save it with its outputs and the state of the widgets it created."
    from ipywidgets import Widget
    Widget.close_all()  # notebooks run in this one interpreter: each saves only its own widgets
    ok, _ = test_nb(nb.resolve(), skip_flags=skip, force_flags=force, save=True, basepath=root, cell_timeout=None)
    state = Widget.get_manager_state(drop_defaults=True)
    if ok and state['state']:
        saved = read_nb(nb)
        saved.metadata['widgets'] = {WIDGET_STATE: state}
        write_nb(saved, nb)
    from greater_nb.checkers import clear_exercise_outputs
    if ok: clear_exercise_outputs(nb)  # learner notebooks keep exercise and prediction cells unexecuted: no spoilers
    Widget.close_all()
    return ok

def main(paths):
    root = Path(__file__).resolve().parents[1]
    slow = '--skip-slow' not in paths
    paths = [p for p in paths if p != '--skip-slow']
    nbs = [Path(p) for p in paths] or sorted(p for p in (root/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    skip = ([] if torch.cuda.is_available() else ['gpu']) + ([] if slow else ['slow'])
    failed = []
    for nb in nbs:
        t = time.time()
        ok = run_nb(nb, root, skip, ['slow'] if slow else [])
        print(f"{'ok    ' if ok else 'FAILED'} {nb.name} ({time.time()-t:.0f}s)", flush=True)
        if not ok: failed.append(nb.name)
    nbdev_clean.__wrapped__() if hasattr(nbdev_clean, '__wrapped__') else nbdev_clean()
    if failed: sys.exit(f"failed: {' '.join(failed)}")

if __name__ == '__main__': main(sys.argv[1:])
