"""Print every study's finished results as Markdown: runs finished, compute hours, test-row summary, paired verdicts.

The same lines `report` shows in the ablation notebooks, for progress notes; every number is read from `results/`.
Usage: python tools/study_numbers.py [study ...]"""
import sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from greater_nb.studies import STUDIES, RESULTS, progress, verdict_lines, where_run
from greater_nb.sweep import results_table, row_table, summary, sweep_time

def study_md(study, root=RESULTS, split='test') -> str:
    p = progress(study, root); done = p[p.finished]
    out = [f"### {study.name}: {len(done)} of {len(p)} runs finished"]
    if done.empty: return '\n'.join(out + ['Nothing finished yet.'])
    out.append(f"{sweep_time(study.name, root)['job_hours']:.2f} h of compute ({where_run(study.name, root)}).")
    table, rows = results_table(study.name, root), row_table(study.name, root)
    if not (table.split == split).any(): return '\n'.join(out)
    out += ['', summary(table, split).to_markdown(index=False), '']
    for task in study.tasks: out += verdict_lines(study, p, rows, task, split)
    return '\n'.join(out)

if __name__ == '__main__':
    for name in sys.argv[1:] or list(STUDIES):
        print(study_md(STUDIES[name])); print()
