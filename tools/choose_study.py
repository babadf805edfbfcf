"""Write a finished study's dev choice (`greater_nb.studies.study_choice`) to results/<study>/choice.json.

Usage: python tools/choose_study.py STUDY [--root results] [--dry-run]

Only dev rows are read. It refuses, in one line, while any job of the study is unfinished, and when the study
already has a choice: the plan commits the choice once, before any test row is evaluated. Commit the file; the
study's gate (`after`) then opens its test rows, and `python tools/run_studies.py STUDY` evaluates them.
"""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

def main(argv=None):
    from greater_nb.studies import ALL_STUDIES, RESULTS, study_choice
    from greater_nb.runlog import atomic_write
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('study')
    ap.add_argument('--root', default=str(RESULTS), help='the results folder (default: the committed results/)')
    ap.add_argument('--dry-run', action='store_true', help='print the choice, write nothing')
    a = ap.parse_args(argv)
    if a.study not in ALL_STUDIES: sys.exit(f'choose_study: unknown study {a.study!r}; studies: {", ".join(ALL_STUDIES)}')
    out = Path(a.root)/a.study/'choice.json'
    if out.exists(): sys.exit(f'choose_study: {out} exists: a study is chosen once, before its test rows (move it aside to choose again)')
    try: c = study_choice(ALL_STUDIES[a.study], root=a.root)
    except ValueError as e: sys.exit(f'choose_study: {e}')
    text = json.dumps(c, indent=1, ensure_ascii=False) + '\n'
    if a.dry_run: print(text, end=''); return
    atomic_write(out, text)
    print(f'wrote {out}: best on dev {c["best_on_dev"]}; commit it before any test row is evaluated')

if __name__ == '__main__': main()
