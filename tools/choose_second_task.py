"""Apply results/second_task/RULE.md to the candidates' dev results and write results/second_task/choice.json.

Usage: python tools/choose_second_task.py [--dry-run]

Reads the fixed-prompt dev evaluations of each candidate (results/budget/<task>/*.json, written by
`python tools/run_budget.py --task <task> --no-choice`) at the budget chosen for word_problems
(results/budget/choice.json). No test row is read. A candidate whose four results are not all there stops the walk
with one line: the rule takes the first qualifying candidate in its order, so a later one cannot be chosen before an
earlier one is settled.
"""
import argparse, datetime, json, sys
from collections import Counter
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATES = ['two_step_problems', 'compare_problems']     # the rule's order
OUT = ROOT/'results'/'second_task'/'choice.json'
ALPHA = 0.05

def chance(task:str) -> tuple[float, str]:
    "The rule's chance level on the dev rows: 50% for Yes/No, else the share of the most frequent gold answer."
    from greater_nb.data import load_task
    golds = [e.answer for e in load_task(task).split('dev')]
    if set(golds) <= {'Yes', 'No'}: return 0.5, 'Yes/No: 50%'
    a, n = Counter(golds).most_common(1)[0]
    return n / len(golds), f'most frequent gold answer {a!r}: {n} of {len(golds)} dev rows'

def judge(task:str, budget:int) -> dict:
    "The rule's two conditions for `task` at `budget`, with every number they rest on."
    from greater_nb.budget import budget_table, budget_summary, budget_comparisons, FIXED_PROMPTS
    rows = budget_table(task)
    missing = sorted(set(FIXED_PROMPTS) - set(rows.prompt)) if len(rows) else sorted(FIXED_PROMPTS)
    if missing: raise SystemExit(f'{task}: no dev results for {missing}; run: python tools/run_budget.py --task {task} --no-choice')
    s = budget_summary(rows)   # accuracy with its 95% row-bootstrap interval, and the cut share, per (prompt, budget)
    at = s[s.budget == budget].set_index('prompt').sort_values('accuracy', ascending=False, kind='stable')
    best = at.index[0]; lo, hi = at.lo[best], at.hi[best]
    c, c_why = chance(task)
    _, pairs = budget_comparisons(rows, budget, old=budget)
    differ = {f'{a} vs {b}': dict(diff=p.diff, p=p.p, p_holm=p.p_holm, lo=p.lo, hi=p.hi)
              for (a, b), p in pairs.items()}
    a_ok = any(d['p_holm'] < ALPHA for d in differ.values())
    b_ok = bool(lo > c)
    return dict(task=task, budget=budget, accuracy=at.accuracy.round(4).to_dict(), cut=at.cut.round(4).to_dict(),
                best=best, best_ci=[float(lo), float(hi)], chance=c, chance_why=c_why, pairs=differ,
                a_prompts_differ=a_ok, b_best_above_chance=b_ok, qualifies=a_ok and b_ok)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dry-run', action='store_true', help='print the verdicts; write nothing')
    a = ap.parse_args(argv)
    budget = json.loads((ROOT/'results'/'budget'/'choice.json').read_text(encoding='utf-8'))['budget']
    verdicts = []
    for task in CANDIDATES:
        v = judge(task, budget); verdicts.append(v)
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
        tmp = OUT.with_suffix('.tmp'); tmp.write_text(json.dumps(out, indent=1) + '\n', encoding='utf-8'); tmp.replace(OUT)
        print(f'wrote {OUT.relative_to(ROOT)}')

if __name__ == '__main__': main()
