"""Tests marked `slow` run only with `GREATER_NB_SLOW=1` (`make test-slow`), like the notebooks' `#| slow` cells.

`make test` keeps to what a 2-core CI machine finishes in 15 minutes; `make test-slow` runs everything.

Under pytest-xdist each worker gets its share of the cores for torch (`cores // workers` threads, one on a 2-core
machine), and so do the processes it starts (notebook kernels, the docs build, Dask workers) through `OMP_NUM_THREADS`.
torch's default, a thread per core in every worker, oversubscribes the cores: OpenMP threads spin while they wait for
each other, and in-process model tests ran 5-20 times slower than alone."""
import os, sys
import pytest

def worker_threads(cores:int|None=None, workers:int|None=None) -> int|None:
    "torch threads for one xdist worker, or None outside xdist (torch's default then)."
    workers = workers or int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', 0) or 0)
    if not workers: return None
    return max(1, (cores or os.cpu_count() or 1) // workers)

def pytest_configure(config):
    n = worker_threads()
    if n is None or 'OMP_NUM_THREADS' in os.environ: return  # a value the user set wins
    os.environ['OMP_NUM_THREADS'] = str(n)  # before torch is imported here, and inherited by every subprocess
    if 'torch' in sys.modules: sys.modules['torch'].set_num_threads(n)

def pytest_collection_modifyitems(config, items):
    if os.environ.get('GREATER_NB_SLOW') == '1': return
    skip = pytest.mark.skip(reason='slow: runs with GREATER_NB_SLOW=1 (make test-slow)')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)
