"""Apply results/second_task/RULE.md to the candidates' dev results and write results/second_task/choice.json.

Usage: python tools/choose_second_task.py [--dry-run]

Reads the fixed-prompt dev evaluations of each candidate (results/budget/<task>/*.json, written by
`python tools/run_budget.py --task <task> --no-choice`) at the budget chosen for word_problems
(results/budget/choice.json). No test row is read. A candidate whose four results are not all there stops the walk
with one line: the rule takes the first qualifying candidate in its order, so a later one cannot be chosen before an
earlier one is settled.
"""
import argparse, datetime, json, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATES = ['two_step_problems', 'compare_problems']     # the rule's order
OUT = ROOT/'results'/'second_task'/'choice.json'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dry-run', action='store_true', help='print the verdicts; write nothing')
    a = ap.parse_args(argv)
    budget = json.loads((ROOT/'results'/'budget'/'choice.json').read_text(encoding='utf-8'))['budget']
    from greater_nb.budget import second_task_verdict   # the rule as code (nbs/ablations/07_budget.ipynb)
    verdicts = []
    for task in CANDIDATES:
        try: v = second_task_verdict(task, budget)
        except ValueError as e: sys.exit(f'choose_second_task: {e}')
        verdicts.append(v)
        print(f"{task}: prompts differ beyond noise (Holm over {len(v['pairs'])} pairs): {v['a_prompts_differ']}; "
              f"best fixed prompt {v['best']!r} {v['accuracy'][v['best']]:.1%} [{v['best_ci'][0]:.1%}, {v['best_ci'][1]:.1%}] "
              f"vs chance {v['chance']:.1%}: above: {v['b_best_above_chance']}")
        if v['qualifies']: break
    chosen = next((v['task'] for v in verdicts if v['qualifies']), None)
    out = dict(chosen=chosen, rule='results/second_task/RULE.md', budget=budget, date=datetime.date.today().isoformat(),
               verdicts=verdicts, note=None if chosen else 'no candidate qualifies: no second task is run')
    print(f'second task: {chosen}')
    if not a.dry_run:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        from greater_nb.runlog import atomic_write
        atomic_write(OUT, json.dumps(out, indent=1) + '\n')
        print(f'wrote {OUT.relative_to(ROOT)}')

if __name__ == '__main__': main()
