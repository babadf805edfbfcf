"""Print every study's finished results as Markdown: runs finished, compute hours, test-row summary, paired verdicts.

Used for progress notes; every number is read from `results/`. Usage: python tools/study_numbers.py [study ...]"""
import sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from greater_nb.studies import STUDIES, progress, RESULTS
from greater_nb.sweep import results_table, row_table, summary, effects, paired, verdict, sweep_time

def study_md(study, root=RESULTS, split='test', reference='paper') -> str:
    p = progress(study, root); done = p[p.finished]
    out = [f"### {study.name}: {len(done)} of {len(p)} runs finished"]
    if done.empty: return '\n'.join(out + ['Nothing finished yet.'])
    t = sweep_time(study.name, root)
    out.append(f"{t['job_hours']:.2f} h of compute (float32, 1 thread per job, 2-core x86_64 CPU).")
    table, rows = results_table(study.name, root), row_table(study.name, root)
    if not (table.split == split).any(): return '\n'.join(out)
    out += ['', summary(table, split).to_markdown(index=False), '']
    size = p.groupby(['task', 'variant'], sort=False).size()
    fin = done.groupby(['task', 'variant'], sort=False).size().reindex(size.index, fill_value=0)
    complete = {k for k in size.index if fin[k] == size[k]}
    for task in study.tasks:
        for m in ('accuracy', 'CE'):
            for v in study.variants:
                if (task, v) not in complete: continue
                if p[(p.task == task) & (p.variant == v) & p.seed.notna()].size:
                    out.append(f"- {task}, {v}: " + verdict(effects(rows, task, split, m, variants=[v])[v], f'optimized vs initial ({m})'))
                if reference in study.variants and v != reference and (task, reference) in complete:
                    out.append(f"- {task}: " + verdict(paired(rows, task, split, (reference, 'best'), (v, 'best'), m), f'{v} vs {reference}, optimized ({m})'))
    return '\n'.join(out)

if __name__ == '__main__':
    for name in sys.argv[1:] or list(STUDIES):
        print(study_md(STUDIES[name])); print()
