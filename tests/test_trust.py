"""Trustworthy results (issue 16): a sweep never returns stale numbers, writes nowhere outside its folder, rebuilds a damaged
file after saying so; a task file that cannot be read, and a run log whose objective is null or Infinity, are handled.

The command-line cases of the same issue (an output path that is a link or a device, bytes that are not UTF-8, numbers
beyond the model, a malformed `WORLD_SIZE`, SIGTERM then resume) are in `tests/test_cli_errors.py`; the legacy results and
the notebook's own checks in `nbs/11_sweep.ipynb`. Every study here is tiny: one held-out row, 8-token chains, 1-2 steps.
"""
import contextlib, io, json, os, subprocess, sys
from pathlib import Path

import pytest

from greater_nb.sweep import Study, run_sweep, jobs, results_table

pytestmark = pytest.mark.xdist_group('trust')  # one pytest-xdist worker: the model is loaded once for the file
ROOT = Path(__file__).resolve().parents[1]
TINY = dict(steps=2, n_train=1, max_new_tokens=8, k=5, q=1)

def said(fn):
    "What `fn()` writes on stderr, and its result."
    with contextlib.redirect_stderr(io.StringIO()) as err: out = fn()
    return err.getvalue(), out

def fixed(root, prompt, name='s', evals=None, **more):
    "A study of one fixed prompt on one navigate row (and `more` variants)."
    return Study(name, ['navigate'], {'zs': {'prompt': prompt}, **more}, evals=evals or {'dev': 1}, eval_max_new_tokens=8, root=str(root))

def test_changed_prompt_is_recomputed(tmp_path):
    "The issue's reproduction: the second sweep used to print ['Answer A.']."
    run_sweep(fixed(tmp_path, 'Answer A.', none={'prompt': ''}), progress=False)
    msg, t = said(lambda: run_sweep(fixed(tmp_path, 'Think step by step.'), progress=False))
    assert t.prompt.tolist() == ['Think step by step.']           # the new prompt; the removed variant 'none' is not in the table
    lines = msg.splitlines()
    assert len(lines) == 1 and "navigate/zs was made with another configuration (prompt 'Answer A.' → 'Think step by step.')" in lines[0], msg
    assert 'another study name' in lines[0]                       # how to keep the old results
    spec = json.loads((tmp_path/'s'/'study.json').read_text())
    assert spec['variants'] == {'zs': {'prompt': 'Think step by step.'}}
    old = tmp_path/'s'/'runs'/'navigate'/'zs'/'fixed.json.stale-1'
    assert json.loads(old.read_text())['prompt'] == 'Answer A.'   # moved aside, never deleted
    assert results_table('s', tmp_path).variant.tolist() == ['zs']

def test_changed_evals_reevaluate(tmp_path):
    run_sweep(fixed(tmp_path, 'Answer A.', evals={'dev': 2}), progress=False)
    msg, t = said(lambda: run_sweep(fixed(tmp_path, 'Answer A.', evals={'dev': 1}), progress=False))
    assert 'evals.dev 2 → 1' in msg and t.n.tolist() == [1]

def test_a_gate_opens_test_rows_when_its_file_appears(tmp_path):
    "A pre-registered study: test rows only once `choice.json` is in its folder; then the dev evaluation is reused, not redone, and nothing is set aside."
    s = Study('g', ['navigate'], {'zs': {'prompt': 'Answer A.'}}, evals={'dev': 1, 'test': 1}, after={'test': 'choice.json'},
              eval_max_new_tokens=8, root=str(tmp_path))
    assert run_sweep(s, progress=False).split.tolist() == ['dev']
    dev = next((tmp_path/'g'/'evals').rglob('dev/*.json'))
    before = dev.stat().st_mtime_ns
    (tmp_path/'g'/'choice.json').write_text('{}')
    msg, t = said(lambda: run_sweep(s, progress=False))
    assert t.split.tolist() == ['dev', 'test'] and msg == 'navigate/zs: test rows opened; its prompts are evaluated there\n', msg
    assert dev.stat().st_mtime_ns == before                      # the dev rows were not evaluated again
    assert not list((tmp_path/'g').rglob('*.stale-*'))           # an opened split is not a new configuration: nothing set aside

def test_changed_steps_recompute_the_run(tmp_path):
    "A change of the optimization itself moves the run log aside too, and optimizes again."
    s = lambda steps: Study('opt', ['sports_understanding'], {'paper': {}}, base={**TINY, 'steps': steps}, seeds=[0], evals={'dev': 1},
                            eval_max_new_tokens=8, root=str(tmp_path))
    assert run_sweep(s(2), progress=False).steps.tolist() == [2, 2]
    msg, t = said(lambda: run_sweep(s(1), progress=False))
    assert 'config.steps 2 → 1' in msg and t.steps.tolist() == [1, 1], msg
    runs = tmp_path/'opt'/'runs'/'sports_understanding'/'paper'
    assert (runs/'seed0.jsonl.stale-1').exists() and (runs/'seed0.jsonl.state.json.stale-1').exists()
    assert len((runs/'seed0.jsonl').read_text().splitlines()) == 2   # a fresh 1-step log, not the old 2-step one

@pytest.mark.parametrize('where,name', [('study', '..'), ('study', '/abs/path'), ('variant', '../../../x'), ('variant', '/abs/path'),
                                        ('variant', './a'), ('variant', 'a/'), ('variant', '.')])
def test_names_cannot_leave_the_folder(tmp_path, where, name):
    with pytest.raises(ValueError, match=f'{where} name .* must be one plain folder name'):
        if where == 'study': Study(name, ['navigate'], {'zs': {'prompt': ''}}, evals={'dev': 1}, root=str(tmp_path/'r'))
        else: Study('s', ['navigate'], {'a': {'prompt': ''}, name: {'prompt': ''}}, evals={'dev': 1}, root=str(tmp_path/'r'))
    assert list(tmp_path.iterdir()) == []                         # nothing written anywhere

def test_names_that_share_a_folder():
    with pytest.raises(ValueError, match="'zs' and 'ZS' would share one folder"):
        Study('s', ['navigate'], {'zs': {'prompt': ''}, 'ZS': {'prompt': 'x'}}, evals={'dev': 1})

@pytest.mark.parametrize('kw,msg', [(dict(seeds=[]), 'seeds must be a non-empty list'), (dict(base={'stepz': 1}), "base: unknown field 'stepz'"),
                                    (dict(dtype='fp32'), "dtype 'fp32'"), (dict(device='gpu'), "unknown device 'gpu'"),
                                    (dict(evals={'valid': 1}), "unknown split 'valid'"), (dict(evals={'dev': -1}), "evals\\['dev'\\] must be")])
def test_study_fields_checked_at_construction(kw, msg):
    with pytest.raises(ValueError, match=msg): Study('s', ['navigate'], {'p': {}}, **{'evals': {'dev': 1}, **kw})

def test_corrupt_result_moved_aside_and_rebuilt(tmp_path):
    a, b = fixed(tmp_path, 'Answer A.', name='a'), fixed(tmp_path, 'Answer A.', name='b')
    good = run_sweep(a, progress=False)
    res = jobs(a)[0].result_path
    res.write_text('{"study": "a", "ta')                           # torn
    with pytest.raises(ValueError, match='fixed.json is damaged \\(not valid JSON'): results_table('a', tmp_path)
    assert run_sweep(b, progress=False).accuracy.tolist() == good.accuracy.tolist()   # another study in the same root is not broken
    msg, t = said(lambda: run_sweep(a, progress=False))
    assert 'fixed.json is damaged (not valid JSON' in msg and 'moved aside to fixed.json.corrupt-1, rebuilding it' in msg, msg
    assert res.with_name('fixed.json.corrupt-1').read_text() == '{"study": "a", "ta'
    assert t.drop(columns='optimize_seconds').equals(good.drop(columns='optimize_seconds'))

def test_task_file_that_cannot_be_read(tmp_path):
    from greater_nb.data import _read_bbh
    (tmp_path/'folder.json').mkdir()
    (tmp_path/'loop.json').symlink_to('loop.json')
    (tmp_path/'bytes.json').write_bytes(b'{"examples": ["\xff"]}')
    for f, why in [('folder.json', 'cannot be read (a folder, not a file)'), ('loop.json', 'cannot be read (a symbolic-link loop)'),
                   ('bytes.json', 'not UTF-8')]:
        with pytest.raises(ValueError, match=f'{f}: {why}'.replace('(', '\\(').replace(')', '\\)')): _read_bbh(tmp_path/f)

def test_run_viewer_null_and_infinity(tmp_path):
    "A run log whose objectives are null, Infinity or NaN draws (those points are left out of the axes' range)."
    from greater_nb.widgets import RunViewer
    lines = (ROOT/'results/init/runs/word_problems/paper/seed0.jsonl').read_text().splitlines()
    head, recs = json.loads(lines[0]), [json.loads(l) for l in lines[1:3]]
    head['init_objective'] = float('inf')
    recs[0]['objective'], recs[0]['best_objective'], recs[1]['ce'] = None, float('inf'), float('nan')
    (tmp_path/'run.jsonl').write_text(''.join(json.dumps(x) + '\n' for x in [head] + recs))
    v = RunViewer(tmp_path/'run.jsonl', tok=False)
    assert len(v.stack.children) == 3
    v.close()

@pytest.mark.slow  # one torchrun launch (about 25 s); runs in `make test-slow`
def test_lost_rank0_gives_one_line(tmp_path):
    "Rank 0 dies as step 2 starts: the surviving rank finds rank 0's lock free and says so, once."
    env = {**{k: v for k, v in os.environ.items() if k not in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK')},
           'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT), 'GREATER_NB_TEST_EXIT': '0:2'}
    args = ['optimize', '--task', 'web_of_lies', '--steps', '2', '--n-train', '2', '--max-new-tokens', '8', '--k', '5', '--q', '1',
            '--mu', '2', '--batch-size', '1', '--grad-batch-size', '1', '--no-eval', '--dtype', 'float32', '--device', 'cpu', '--log', 'run.jsonl']
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', '-m', 'greater_nb.cli', '--', *args],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    ours = [l for l in r.stderr.splitlines() if l.startswith('greater-nb:')]
    assert len(ours) == 1 and 'rank 1: error:' in ours[0] and 'resume with:' in ours[0], r.stderr[-3000:]

def test_long_prompt_warns_and_limits(capsys):
    "A prompt long enough to make memory the limit gets one warning line; the model's limits are read from its config."
    from greater_nb.cli import warn_long, check_limits, model_limits
    warn_long('x' * 100, '--prompt')
    warn_long('x' * 10_000, '--prompt')
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and '--prompt is 10,000 characters long' in err[0] and '11.4 GB' in err[0], err
    lim = model_limits(None)   # the embedded SmolLM2-135M: its config, no weights
    assert lim == dict(vocab=49152, positions=8192)
    check_limits(lim, k=49152, max_new_tokens=8192)
    with pytest.raises(ValueError, match="k=100000 is more than the model's 49,152 tokens"): check_limits(lim, k=100000)

def test_choose_study_refuses_until_finished_then_writes_once(tmp_path, monkeypatch, capsys):
    "tools/choose_study.py: one line while jobs are unfinished (nothing written), then the choice, then never a second one."
    sys.path.insert(0, str(ROOT/'tools'))
    import choose_study, greater_nb.studies as st
    with pytest.raises(SystemExit, match='v2_main: 24 of 24 jobs are unfinished'): choose_study.main(['v2_main', '--root', str(tmp_path)])
    assert not (tmp_path/'v2_main'/'choice.json').exists()
    (tmp_path/'v2_main').mkdir()   # from here, a finished study: its ranking is study_choice's (tested in 00_studies)
    monkeypatch.setattr(st, 'study_choice', lambda s, root: dict(study=s.name, root=str(root), best_on_dev={'kind': 'fixed', 'variant': 'neutral'}))
    choose_study.main(['v2_main', '--root', str(tmp_path)])
    assert json.loads((tmp_path/'v2_main'/'choice.json').read_text()) == dict(study='v2_main', root=str(tmp_path), best_on_dev={'kind': 'fixed', 'variant': 'neutral'})
    assert 'commit it before any test row' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='exists: a study is chosen once'): choose_study.main(['v2_main', '--root', str(tmp_path)])
