"""Run the ablation studies of `greater_nb.studies` (all of them, or those named), in the background on this machine.

Usage: python tools/run_studies.py [STUDY ...] [--workers N] [--dask ADDRESS] [--root results] [--tasks TASK ...] [--device cuda]
Each study runs its unfinished jobs (a killed sweep continues where it stopped) on a pool of N single-threaded worker
processes, or on the Dask scheduler at ADDRESS. Studies run in the order given, so runs shared between studies
(the 'paper' variant) are computed once and copied. --device runs every job there instead of on the study's own device
(the results record it, and runs are shared only between studies on the same device).
"""
import argparse, dataclasses, multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from greater_nb.studies import ALL_STUDIES
from greater_nb.sweep import run_sweep

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('studies', nargs='*', default=list(ALL_STUDIES), help=f'default: all ({", ".join(ALL_STUDIES)})')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--dask', default=None, help='address of a Dask scheduler (default: a local process pool)')
    ap.add_argument('--root', default='results')
    ap.add_argument('--tasks', nargs='+', default=None, help="run only these tasks' jobs (default: every task of each study)")
    ap.add_argument('--device', default=None, help="run the jobs on this device (default: each study's own, the CPU)")
    a = ap.parse_args(argv)
    unknown = [s for s in a.studies if s not in ALL_STUDIES]
    if unknown: sys.exit(f'run_studies: unknown study {unknown[0]!r}; studies: {", ".join(ALL_STUDIES)}')
    if a.device:
        from greater_nb.models import check_device
        try: a.device = check_device(a.device)
        except ValueError as e: sys.exit(f'run_studies: {e}')
    if a.dask:
        from dask.distributed import Client
        client = Client(a.dask); ex = client.get_executor()
    else: ex = ProcessPoolExecutor(a.workers, mp_context=multiprocessing.get_context('spawn'))
    for name in a.studies:
        t = time.time()
        s = dataclasses.replace(ALL_STUDIES[name], root=a.root, **({'device': a.device} if a.device else {}))
        tasks = [t for t in a.tasks if t in s.tasks] if a.tasks else None
        if a.tasks and not tasks: continue   # this study has none of those tasks
        table = run_sweep(s, ex, tasks=tasks)
        print(f'{name}: {len(table)} rows in {time.time() - t:.0f}s', flush=True)

if __name__ == '__main__': main()
