"""Data parallel over training examples (issue 11, appendix a6): `greater-nb optimize` under `torchrun` with two processes
(gloo on CPU) against the same run in one process, and a rank that dies, then `--resume`.

Each run is tiny (the embedded model in float32, 2 training examples, 8-token chains, k=5, q=1, μ=2, 2 steps) and uses
batch size 1, so that every row is computed alone in both runs: the only difference left is the order in which the
per-example sums are added (float64 all-reduce across ranks against float32 means in one process), far below the
1e-5 relative tolerance. The choices (candidates, selected and chosen tokens, prompts) must be identical.
"""
import json, math, os, subprocess, sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(sys.platform == 'win32', reason='torchrun and POSIX signals'),
              pytest.mark.xdist_group('distributed')]  # one pytest-xdist worker runs this file (its fixture is built once per session)
ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {**{k: v for k, v in os.environ.items() if k not in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'GREATER_NB_TEST_EXIT')},
       'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1', 'PYTHONPATH': str(ROOT)}
TINY = ['optimize', '--task', 'web_of_lies', '--steps', '2', '--n-train', '2', '--max-new-tokens', '8', '--k', '5', '--q', '1',
        '--mu', '2', '--batch-size', '1', '--grad-batch-size', '1', '--no-eval', '--dtype', 'float32', '--device', 'cpu']
EXACT = ('step', 'position', 'prompt_before', 'prompt_before_ids', 'candidates', 'candidate_text', 'selected', 'chosen', 'prompt',
         'prompt_ids', 'best_prompt')

def cli(cwd:Path, *args, nproc:int|None=None, env:dict|None=None) -> subprocess.CompletedProcess:
    "`greater-nb` in one plain process, or under `torchrun --standalone --nproc-per-node nproc` (`--` keeps `--log` ours)."
    launch = [] if nproc is None else ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(nproc)]
    cmd = [PY, *launch, '-m', 'greater_nb.cli', *([] if nproc is None else ['--']), *args]
    return subprocess.run(cmd, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=600)

def records(log:Path) -> list[dict]: return [json.loads(l) for l in log.read_text().splitlines()]

def close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float): return math.isclose(a, b, rel_tol=1e-5, abs_tol=2e-6)  # neg_grad: 6 decimals
    if isinstance(a, list) and isinstance(b, list): return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict): return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b

def check_same(got:list[dict], want:list[dict]):
    assert len(got) == len(want)
    head, want_head = dict(got[0]), dict(want[0])
    assert close(head, want_head), (head, want_head)
    for g, w in zip(got[1:], want[1:]):
        for k in EXACT: assert g[k] == w[k], (g['step'], k, g[k], w[k])
        assert g.keys() == w.keys()
        for k in g.keys() - {'times'}: assert close(g[k], w[k]), (g['step'], k, g[k], w[k])

@pytest.fixture(scope='session')
def one(tmp_path_factory) -> list[dict]:
    "The reference: the tiny run in one process."
    d = tmp_path_factory.mktemp('one')
    r = cli(d, *TINY, '--log', 'run.jsonl')
    assert r.returncode == 0, r.stderr[-3000:]
    return records(d/'run.jsonl')

def test_two_processes_match_one(one, tmp_path):
    r = cli(tmp_path, *TINY, '--log', 'run.jsonl', nproc=2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('model: ') == 1 and 'in 2 processes' in r.stdout  # rank 0 alone reports
    check_same(records(tmp_path/'run.jsonl'), one)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run.jsonl', 'run.jsonl.state.json']  # rank 0 wrote; no lock left

@pytest.mark.slow  # two torchrun launches (about 45 s); runs in `make test-slow`
def test_lost_rank_then_resume(one, tmp_path):
    r = cli(tmp_path, *TINY, '--log', 'run.jsonl', nproc=2, env={'GREATER_NB_TEST_EXIT': '1:2'})  # rank 1 dies as step 2 starts
    assert r.returncode != 0
    ours = [l for l in r.stderr.splitlines() if l.startswith('greater-nb:')]
    assert len(ours) == 1, r.stderr[-3000:]  # one line from us (torchrun adds its own failure report)
    assert 'the run log holds 1 of 2 steps' in ours[0] and '--resume' in ours[0], ours[0]
    assert 'greater_nb/' not in r.stderr  # no traceback through our code
    assert len(records(tmp_path/'run.jsonl')) == 2 and not (tmp_path/'run.jsonl.lock').exists()
    r = cli(tmp_path, 'optimize', '--task', 'web_of_lies', '--log', 'run.jsonl', '--resume', '--no-eval', '--dtype', 'float32',
            '--device', 'cpu', nproc=2)
    assert r.returncode == 0, r.stderr[-3000:]
    check_same(records(tmp_path/'run.jsonl'), one)

def test_too_few_examples(tmp_path):
    "Every rank needs an example: one line, from rank 0 alone, exit status 2, nothing written."
    args = [a if a != '2' or i != TINY.index('--n-train') + 1 else '1' for i, a in enumerate(TINY)]
    r = cli(tmp_path, *args, '--log', 'run.jsonl', nproc=2)
    ours = [l for l in r.stderr.splitlines() if l.startswith('greater-nb:')]
    assert r.returncode != 0 and len(ours) == 1 and 'n_train=1 is less than the 2 processes' in ours[0], r.stderr[-3000:]
    assert not list(tmp_path.iterdir())
