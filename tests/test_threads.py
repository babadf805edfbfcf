"""The test session's torch threads (tests/conftest.py): a worker's share of the cores, never more."""
import os
import torch
from conftest import worker_threads

def test_worker_share():
    assert worker_threads(cores=2, workers=2) == 1
    assert worker_threads(cores=16, workers=4) == 4
    assert worker_threads(cores=2, workers=4) == 1   # never zero

def test_this_worker_does_not_oversubscribe():
    n = worker_threads()
    if n is None: return  # not under xdist: torch's default
    assert torch.get_num_threads() <= n, (torch.get_num_threads(), n, os.environ.get('OMP_NUM_THREADS'))
    assert int(os.environ['OMP_NUM_THREADS']) <= n
