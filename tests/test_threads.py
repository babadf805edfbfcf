"""How `make test` shares the machine under pytest-xdist: torch threads per worker (tests/conftest.py), and xdist groups."""
import os
import pytest, torch
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

@pytest.mark.xdist_group('probe')
def test_xdist_groups_reach_the_scheduler(request):
    """`make test` runs `--dist loadgroup`: a file's `xdist_group` keeps its tests on one worker, so a session fixture
    (the docs site, a loaded model) is built once. xdist marks a grouped test by suffixing its node id with `@group`;
    where that suffix is lost (pytest 9.2 with pytest-xdist 3.8), every group is spread over the workers."""
    if not request.config.getvalue('loadgroup'): pytest.skip('not run with --dist loadgroup')
    assert request.node.nodeid.endswith('@probe'), f'{request.node.nodeid}: xdist groups are ignored (pytest-dev/pytest-xdist#1386)'
