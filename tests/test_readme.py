"README.md is the rendering of nbs/index.ipynb, and it starts with the two commands that matter."
import importlib.util, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location('make_readme', ROOT/'tools'/'make_readme.py')
make_readme = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(make_readme)
README = ROOT/'README.md'

def test_readme_is_fresh():
    assert README.exists(), 'README.md is missing: run `make readme`'
    assert README.read_text(encoding='utf-8') == make_readme.render(ROOT/'nbs'/'index.ipynb'), \
        'README.md is stale: run `make readme`'

def test_readme_figures_are_fresh():
    "Every figure of the home page is a file under images/readme/ with the notebook's bytes, linked with alt text; no file is left over."
    assert make_readme.stale_figures() == [], 'README figures are stale: run `make readme`'
    links = re.findall(r'!\[([^\]]+)\]\((images/readme/[^)]+\.png)\)', README.read_text(encoding='utf-8'))
    assert sorted(Path(p).name for _, p in links) == sorted(make_readme.figures()) and links, links
    assert all(len(alt) > 20 and alt != 'Figure' for alt, _ in links), links

def test_readme_starts_with_make_run_and_make_test():
    m = re.search(r'^(`{3,})[^\n]*\n(.*?)^\1\s*$', README.read_text(encoding='utf-8'), re.M | re.S)
    assert m, 'README.md has no fenced code block'
    assert m.group(2).strip().splitlines() == ['make run', 'make test']

def test_licence_matches_pyproject():
    "The project's LICENSE is the Apache-2.0 text that pyproject.toml declares."
    import tomllib
    assert tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['license'] == 'Apache-2.0'
    text = (ROOT/'LICENSE').read_text()
    assert 'Apache License' in text and 'Version 2.0' in text and 'END OF TERMS AND CONDITIONS' in text
