"""The course's promises, checked on the saved notebooks and the checkers.

- **No spoilers.** A learner notebook (tutorials 01–04) is saved with its exercise and prediction cells unexecuted: a
  code cell marked `# EXERCISE` or `# PREDICTION` in its leading comment lines (`greater_nb.checkers.exercise_cells`)
  has no outputs and no execution count. Every cell that holds an exercise stub (`raise NotImplementedError`) or
  grades a guess (`check_guess(`) carries a mark, so no answer can hide in an unmarked cell's output, and no saved
  output anywhere in a learner notebook holds a checker's verdict.
- **An exercise in every tutorial**, graded by a checker; the solutions notebook runs every checker the tutorials use.
- **Checkers blame the learner only for the learner's code**, and never pass a case in silence.
"""
import json, re
from pathlib import Path
import pytest
import torch
from greater_nb.checkers import (exercise_cells, check_intersection, grade, theirs, Skip, check_guess, acceptable_intersections,
                                 brute_force_intersection)

TUT = Path(__file__).resolve().parents[1]/'nbs'/'tutorials'
LEARNER = sorted(TUT.glob('0[1-4]_*.ipynb'))
VERDICT = re.compile(r'✓ PASS|✗ FAIL|NOT ATTEMPTED YET|The run says')

def _nb(p): return json.loads(p.read_text(encoding='utf-8'))
def _src(c): return ''.join(c['source'])
def _out(c): return json.dumps(c.get('outputs', []), ensure_ascii=False)

def test_learner_notebooks_found():
    assert [p.name[:2] for p in LEARNER] == ['01', '02', '03', '04']

@pytest.mark.parametrize('path', LEARNER, ids=[p.name for p in LEARNER])
def test_no_answer_in_saved_outputs(path):
    nb = _nb(path)
    marked = set(exercise_cells(nb))
    for i in marked:
        c = nb['cells'][i]
        assert not c.get('outputs') and c.get('execution_count') is None, f'{path.name}, cell {i}: an exercise/prediction cell was saved with outputs'
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] != 'code': continue
        if 'raise NotImplementedError' in _src(c) or 'check_guess(' in _src(c):
            assert i in marked, f'{path.name}, cell {i}: an exercise or a guess check without a `# EXERCISE`/`# PREDICTION` mark'
        assert not VERDICT.search(_out(c)), f'{path.name}, cell {i}: a saved output holds a verdict: {VERDICT.search(_out(c)).group(0)!r}'

@pytest.mark.parametrize('path', LEARNER, ids=[p.name for p in LEARNER])
def test_a_graded_exercise_per_tutorial(path):
    nb = _nb(path)
    graded = [i for i in exercise_cells(nb) if 'NotImplementedError' in _src(nb['cells'][i]) and re.search(r'\bcheck_(?!guess)\w+\(', _src(nb['cells'][i]))]
    assert graded, f'{path.name}: no `# EXERCISE` cell with a stub graded by a checker'

def test_solutions_use_every_checker():
    used = {m for p in LEARNER for m in re.findall(r'\b(check_\w+)\(', ''.join(_src(c) for c in _nb(p)['cells'] if c['cell_type'] == 'code'))}
    sol = ''.join(_src(c) for c in _nb(TUT/'solutions.ipynb')['cells'] if c['cell_type'] == 'code')
    missing = sorted(m for m in used if f'{m}(' not in sol)
    assert len(used) >= 5 and not missing, f'checkers the solutions notebook never runs: {missing}'

def test_checker_error_is_not_blamed_on_the_learner():
    def internal(): raise AssertionError('cannot happen')
    v = grade('x', [('a', internal)], 'y')
    assert not v and 'the checker itself failed' in v.message and 'your function' not in v.message
    v = grade('x', [('a', lambda: theirs(lambda: [][1]))], 'y')
    assert not v and 'your function raised IndexError' in v.message

def test_tie_is_never_passed_silently():
    lp, ok = torch.tensor([[0., -1, -1, -3, -4, -5]] * 2), torch.ones(6, dtype=torch.bool)
    both = {frozenset(brute_force_intersection(lp, 2, ok)), frozenset({0, 2})}
    assert both <= acceptable_intersections(lp, 2, ok)
    for ans in both:
        v = check_intersection(lambda *a, ans=ans: set(ans), lp, ok, k=2, random_cases=False)
        assert v and 'tie' in v.message, v
    assert not check_intersection(lambda *a: {0, 3}, lp, ok, k=2, random_cases=False)
    v = grade('x', [('a', lambda: None), ('b', lambda: (_ for _ in ()).throw(Skip('ungradable')))], 'y')
    assert v and 'all 1 graded cases' in v.message and '1 of 2 skipped' in v.message

def test_guess_not_written_gives_nothing_away():
    v = check_guess(None, 'fewer', ('more', 'fewer', 'same'), why='Zero-shot CoT got 0 of 8 right')
    assert not v and not v.attempted and 'not attempted yet' in v.message and 'Zero-shot' not in v.message
    assert "'fewer'" not in v.message.replace("['more', 'fewer', 'same']", '')
