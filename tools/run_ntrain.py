"""Size n_train by the rule of results/n_train/RULE.md (nbs/ablations/08_n_train.ipynb) and write its choice file.

Usage: python tools/run_ntrain.py [--task word_problems] [--threads 1] [--choice-only]

Float32, training rows only. Writes results/n_train/<task>.json (per-question gradients) and results/n_train/choice.json.
"""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--task', default='word_problems')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    ap.add_argument('--choice-only', action='store_true', help='apply the rule to the existing result file; compute nothing')
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    from greater_nb.ntrain import measure_n_train, write_choice, NTRAIN_ROOT
    if not a.choice_only: print(f'wrote {measure_n_train(a.task)}')
    elif not (NTRAIN_ROOT/f'{a.task}.json').exists(): sys.exit(f'no measurement for {a.task}: run python tools/run_ntrain.py --task {a.task}')
    print(json.dumps(write_choice(a.task), indent=1))

if __name__ == '__main__': main()
