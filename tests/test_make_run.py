"""`make run` (tools/make_run.py) end to end, on a tiny configuration: the three-way comparison it prints, and its
one-line refusals.

The committed choice runs for minutes (`make run` itself); here a choice file of the same shape names a configuration
of one step with an 8-token budget, compared on the first 6 test rows, so the whole path (choice, optimization, three
evaluations, paired intervals, chains cut) runs in seconds. Its numbers mean nothing; what it prints is checked.
"""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}

def make_run(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT/'tools'/'make_run.py'), *map(str, args)], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=timeout)

def tiny_choice(tmp_path, init_prompt, fixed_prompt) -> Path:
    c = dict(task='word_problems', date='2026-12-03',
             optimizer=dict(study='loss', variant='tiny', dev_accuracy=0.1, dev_ce=2.0,
                            config=dict(steps=1, n_train=1, max_new_tokens=8, k=5, q=1, init_prompt=init_prompt)),
             fixed=dict(study='init', variant='neutral', prompt=fixed_prompt, dev_accuracy=0.2, dev_ce=2.1))
    f = tmp_path/'choice.json'
    f.write_text(json.dumps(c))
    return f

def test_make_run_prints_the_three_way_comparison(tmp_path):
    r = make_run('--choice', tiny_choice(tmp_path, 'Think it through.', 'Answer the question.'), '--rows', 6,
                 '--log-dir', tmp_path/'runs')
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "1 steps, 8-token reasoning budget, n_train=1, start 'Think it through.'" in out
    assert 'the same 6 test rows' in out
    table = out.split('test rows (never seen')[1]
    for arm in ('start', 'best fixed', 'optimized'): assert f'\n{arm} ' in table or f' {arm} ' in table, arm
    for vs in ('vs start (accuracy)', 'vs start (CE)', 'vs best fixed (accuracy)', 'vs best fixed (CE)'): assert vs in out, vs
    assert len(list((tmp_path/'runs').glob('word_problems-make-run-*.jsonl'))) == 1   # its log, where it was asked to go

def test_make_run_evaluates_a_start_that_is_the_best_fixed_prompt_once(tmp_path):
    r = make_run('--choice', tiny_choice(tmp_path, 'Answer the question.', 'Answer the question.'), '--rows', 4,
                 '--log-dir', tmp_path/'runs')
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert 'vs start = best fixed (accuracy)' in out and 'vs best fixed' not in out.replace('start = best fixed', '')
    kept = "optimized prompt: 'Answer the question.'" in out   # one step may keep the start
    # the shared start is evaluated once; the optimized prompt too, unless it is the same tokens (then Δ = 0 by construction)
    assert out.count('evaluating on the test rows') == (1 if kept else 2), out
    assert ('identical prompt tokens, so Δ = 0 by construction' in out) == kept, out

@pytest.mark.parametrize('args, says', [
    (['--rows', '0'], '--rows must be at least 1'),
    (['--choice', 'no/such/choice.json'], 'cannot read the dev choice'),
])
def test_make_run_refuses_in_one_line(tmp_path, args, says):
    r = make_run(*args, '--log-dir', tmp_path/'runs', timeout=120)
    assert r.returncode != 0 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path/'runs').exists()

def test_make_run_refuses_a_file_that_is_not_a_choice(tmp_path):
    f = tmp_path/'choice.json'
    f.write_text(json.dumps({'task': 'word_problems', 'fixed': {}}))
    r = make_run('--choice', f, '--log-dir', tmp_path/'runs', timeout=120)
    assert r.returncode != 0 and 'is not a dev choice' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr

def test_a_committed_evaluation_is_found_by_its_key():
    "The sweep's own key finds the fixed prompt's committed test evaluation; other evaluation settings find none."
    import dataclasses, importlib.util
    from greater_nb.studies import V2_STUDIES, RESULTS
    spec = importlib.util.spec_from_file_location('make_run', ROOT/'tools'/'make_run.py')
    mr = importlib.util.module_from_spec(spec); spec.loader.exec_module(mr)
    res = json.loads((RESULTS/'v2_main'/'runs'/'word_problems'/'neutral'/'fixed.json').read_text())
    want = RESULTS/'v2_main'/res['evals']['test']['prompt']
    ids = json.loads(want.read_text())['prompt_ids']
    cfg = V2_STUDIES['v2_main'].config('paper from neutral', 0)   # starts from this prompt; the study's evaluation settings
    f, d = mr.committed_eval('word_problems', ids, cfg, RESULTS)
    assert f.name == want.name and d['prompt'] == 'Answer the question.' and len(d['records']) == d['n'], f
    for other in (dict(batch_size=3), dict(max_new_tokens=255)):
        assert mr.committed_eval('word_problems', ids, dataclasses.replace(cfg, **other), RESULTS) == (None, None), other
    assert mr.committed_eval('word_problems', ids[:-1], cfg, RESULTS) == (None, None)
