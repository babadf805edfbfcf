"""tools/repro_eval.py: a committed evaluation re-made on this machine and compared row by row."""
import json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = [sys.executable, str(ROOT/'tools'/'repro_eval.py')]
EVAL = ROOT/'results/baselines/evals/word_problems/dev/0feb391651dbcb53.json'   # no prompt, 64-token chains, batches of 8

def run(*args, cwd=ROOT): return subprocess.run(TOOL + list(args), capture_output=True, text=True, cwd=cwd)

def test_one_batch_is_remade_and_compared(tmp_path):
    r = run(str(EVAL), '--n', '3', '--name', 'check', '--out-dir', str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads((tmp_path/'check.json').read_text())
    (f,) = out['files']
    committed = json.loads(EVAL.read_text())
    assert f['rows'] == committed['settings']['batch_size'] == 8          # --n 3 rounds up to the whole first batch
    assert f['accuracy_committed'] == sum(x['correct'] for x in committed['records'][:8]) / 8
    assert 0 <= f['same_pred'] <= 8 and f['same_chain'] + len(f['first_differing_rows']) == 8
    if f['same_chain']: assert f['max_abs_gold_loss_diff_same_chain'] < 1e-3   # same chain, same gold CE up to float32 rounding
    assert f['committed_on'] == []                        # the first studies' run records do not name their evaluations
    assert out['here']['threads'] == 1 and f['dtype'] == 'float32' and f['data_checked'] is False   # a first-study file: no data version

def test_where_an_evaluation_was_made_is_read_from_the_run_records():
    import importlib.util
    spec = importlib.util.spec_from_file_location('repro_eval', ROOT/'tools'/'repro_eval.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    run0 = json.loads((ROOT/'results/v2_topk/runs/word_problems/paper/seed0.json').read_text())
    where = mod.made_on(ROOT/'results/v2_topk'/run0['evals']['dev']['best'])
    assert where == [dict(cpu=run0['cpu'], gpu=run0['gpu'], threads=run0['threads'], torch=run0['torch'], results=1)]
    init = mod.made_on(ROOT/'results/v2_topk'/run0['evals']['dev']['init'])   # the start prompt: one file, every run names it
    assert sum(h['results'] for h in init) == len(list((ROOT/'results/v2_topk/runs').glob('*/*/seed[0-9].json')))

@pytest.mark.parametrize('args, says', [
    (['README.md', '--name', 'x'], 'not a readable evaluation file'),
    (['results/choice.json', '--name', 'x'], 'not an evaluation file of a sweep'),
    ([str(EVAL), '--name', '../x'], "letters, digits, _ and - only"),
    ([str(EVAL), '--name', 'x', '--n', '0'], 'must be at least 1'),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, says):
    r = run(*args, '--out-dir', str(tmp_path))
    assert r.returncode != 0 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not any(tmp_path.iterdir())
