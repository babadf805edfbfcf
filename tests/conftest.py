"""Tests marked `slow` run only with `GREATER_NB_SLOW=1` (`make test-slow`), like the notebooks' `#| slow` cells.

`make test` keeps to what a 2-core CI machine finishes in 15 minutes; `make test-slow` runs everything."""
import os
import pytest

def pytest_collection_modifyitems(config, items):
    if os.environ.get('GREATER_NB_SLOW') == '1': return
    skip = pytest.mark.skip(reason='slow: runs with GREATER_NB_SLOW=1 (make test-slow)')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)
