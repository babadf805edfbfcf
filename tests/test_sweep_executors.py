"""A tiny sweep gives identical results serially, on a process pool, and on a 2-worker Dask LocalCluster."""
import dataclasses, multiprocessing, tempfile
from concurrent.futures import ProcessPoolExecutor
import pandas as pd
import pytest
from greater_nb.sweep import Study, run_sweep, row_table

TINY = Study('tiny', ['sports_understanding'], {'paper': {}, 'zs-cot': {'prompt': 'Think step by step.'}},
             base=dict(steps=1, n_train=1, max_new_tokens=8, k=5, q=1), seeds=[0, 1], evals={'dev': 2})

@pytest.fixture(scope='session')
def serial():
    st = dataclasses.replace(TINY, root=tempfile.mkdtemp())
    return st, run_sweep(st, progress=False)

def same(a, b):
    "Equal tables, timings aside."
    pd.testing.assert_frame_equal(a.drop(columns='optimize_seconds'), b.drop(columns='optimize_seconds'))

def check(executor, serial):
    st, table = serial
    other = dataclasses.replace(TINY, root=tempfile.mkdtemp())
    got = run_sweep(other, executor=executor, progress=False)
    assert len(got) == 5 and got.arm.tolist().count('best') == 2   # the jobs really ran there
    same(got, table)
    pd.testing.assert_frame_equal(row_table('tiny', other.root), row_table('tiny', st.root))

def test_dask_local_cluster(serial):
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        check(client.get_executor(), serial)
        assert len(client.scheduler_info()['workers']) == 2

@pytest.mark.slow  # the same Executor path as the Dask test above; runs in `make test-slow`
def test_process_pool(serial):
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('spawn')) as ex: check(ex, serial)

pytestmark = pytest.mark.xdist_group('sweep')  # one pytest-xdist worker runs this file (its fixtures are built once per session)
