"""Fetch the browser libraries the docs site serves itself (nothing on a page may load from a CDN).

Usage: python tools/docs_vendor.py [DEST]   (default: .docs_vendor/)

Each package is fetched from the npm registry with `npm pack` at a pinned version, its tarball is checked against a
pinned sha512 integrity, and only the files the site needs are extracted:
- mathjax: MathJax 3 (the `tex-*chtml*` bundles, their TeX extensions, CommonHTML fonts, menu and a11y parts);
- @jupyter-widgets/html-manager: ipywidgets 8's embedder (`embed.js`, self-contained; `embed-amd.js` for pages
  that use require.js, as Quarto's do), with the Font Awesome files its CSS points at;
- requirejs: `require.js`, which `embed-amd.js` needs (Quarto path only).
DEST/VERSIONS.json records what was fetched; a second run with the same pins does nothing.
"""
import base64, fnmatch, hashlib, json, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT/'.docs_vendor'

# name: (version, integrity of the npm tarball, folder under DEST, [globs of files inside the package])
PACKAGES = {
    'mathjax': ('3.2.2', 'sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==',
                'mathjax', ['LICENSE', 'es5/tex-chtml.js', 'es5/tex-mml-chtml.js', 'es5/tex-chtml-full.js',
                            'es5/input/tex/extensions/*', 'es5/output/chtml/fonts/woff-v2/*', 'es5/ui/*', 'es5/a11y/*']),
    '@jupyter-widgets/html-manager': (
        '1.0.15', 'sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==',
        'html-manager', ['dist/embed.js', 'dist/embed.js.LICENSE.txt', 'dist/embed-amd.js', 'dist/*.woff2',
                         'dist/*.woff', 'dist/*.ttf', 'dist/*.eot', 'dist/*.svg']),
    'requirejs': ('2.3.7', 'sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==',
                  'requirejs', ['require.js']),
}

def _integrity(path:Path) -> str: return 'sha512-' + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()

def _strip(name:str) -> str:
    "The path inside the package without its first folder (`es5/`, `dist/`): `es5/tex-chtml.js` -> `tex-chtml.js`."
    parts = Path(name).parts
    return str(Path(*parts[1:])) if len(parts) > 1 else name

def fetch(name:str, version:str, integrity:str, folder:str, globs:list[str], dest:Path) -> int:
    "npm-pack `name@version`, check its integrity, extract the files matching `globs` into `dest/folder`."
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(['npm', 'pack', f'{name}@{version}', '--json', '--pack-destination', tmp],
                             capture_output=True, text=True, check=True).stdout
        tgz = Path(tmp)/json.loads(out)[0]['filename']
        got = _integrity(tgz)
        if got != integrity: sys.exit(f'{name}@{version}: integrity {got} does not match the pinned {integrity}')
        target = dest/folder
        shutil.rmtree(target, ignore_errors=True)
        n = 0
        with tarfile.open(tgz) as tf:
            for m in tf.getmembers():
                rel = m.name.removeprefix('package/')
                if not m.isfile() or not any(fnmatch.fnmatch(rel, g) for g in globs): continue
                p = target/_strip(rel)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(tf.extractfile(m).read())
                n += 1
    return n

def main(dest:Path=DEST):
    want = {k: list(v[:2]) for k, v in PACKAGES.items()}
    stamp = dest/'VERSIONS.json'
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        stamp.touch()  # newer than this script again: make stops asking
        return print(f'{dest.name}: up to date')
    if shutil.which('npm') is None: sys.exit('npm is needed to fetch the docs assets (Debian: apt-get install -y npm)')
    dest.mkdir(parents=True, exist_ok=True)
    for name, (version, integrity, folder, globs) in PACKAGES.items():
        print(f'{name}@{version}: {fetch(name, version, integrity, folder, globs, dest)} files -> {dest.name}/{folder}')
    stamp.write_text(json.dumps(want, indent=1) + '\n')

if __name__ == '__main__': main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST)
