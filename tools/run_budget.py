"""Run the reasoning-budget study (nbs/ablations/07_budget.ipynb) and write its choice file.

Usage: python tools/run_budget.py [--task word_problems] [--threads 1]

Float32, dev rows only. A prompt whose result file holds the same configuration is not recomputed; one with another
configuration stops the run with one line. The choice (results/budget/choice.json) follows the rule committed in
results/budget/RULE.md.
"""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--task', default='word_problems')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    ap.add_argument('--batch-size', type=int, default=32, help='rows decoded together (default 32)')
    ap.add_argument('--no-choice', action='store_true', help='do not write choice.json (e.g. for a second task)')
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    from greater_nb.budget import run_budget, budget_table, budget_summary, write_choice
    try: run_budget(a.task, batch_size=a.batch_size)
    except ValueError as e: sys.exit(f'run_budget: {e}')
    s = budget_summary(budget_table(a.task))
    print(s.to_string())
    if not a.no_choice: print(json.dumps(write_choice(s, a.task), indent=1))

if __name__ == '__main__': main()
