"""Does a committed evaluation reproduce on this machine? Re-evaluate committed evaluation files (a sweep's
`results/<study>/evals/<task>/<split>/<key>.json`) here, with the settings, prompt ids, dtype and device each file
records (and on the same data version, where the file records it; files of the first studies do not), and compare them row by row: the same reasoning chain, the same answer, and the gold cross-entropy.

A study's jobs can run on different machines (sessions get different CPUs). Its float32 numbers are comparable only if
the same prompt gives the same chains on each; this is the check. The result goes to `results/repro/<name>.json`, with
the hardware of both sides (the original's is read from the study's run records that name the file).

    python tools/repro_eval.py results/v2_topk/evals/word_problems/test/852947e2a56f874f.json --n 50 --name topk_amd_vs_intel
"""
import argparse, json, os, re, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fail(msg:str): sys.exit(f'repro_eval: {msg}')


def made_on(path:Path) -> list[dict]:
    "Where the run results in the same study that name `path` as one of their evaluations say it was made: each distinct hardware record, with how many results say so."
    study = next((p for p in path.parents if p.name == 'evals'), None)
    if study is None: return []
    rel, found = str(path.relative_to(study.parent)), []
    for r in sorted(study.parent.glob('runs/*/*/seed*.json')):
        if not re.fullmatch(r'seed\d+\.json', r.name): continue   # a run's log state (seedN.jsonl.state.json) is not a result
        d = json.loads(r.read_text(encoding='utf-8'))
        for split, kinds in (d.get('evals') or {}).items():
            if rel in kinds.values():
                # a split added later ('opened') ran where that record says; else where the run itself ran
                op = next((o for o in d.get('opened', []) if split in o.get('splits', [])), None)
                src = op if op and op.get('seconds') else d
                found.append(json.dumps(dict(cpu=src.get('cpu'), gpu=src.get('gpu'), threads=src.get('threads'), torch=src.get('torch'))))
    return [dict(json.loads(k), results=found.count(k)) for k in dict.fromkeys(found)]


def compare(old:list[dict], new:list[dict]) -> dict:
    "Row-by-row agreement of two evaluations' records (the first `len(new)` rows of `old`)."
    pairs = list(zip(old, new))
    same_chain = [a['reasoning'] == b['reasoning'] for a, b in pairs]
    dl = [abs(a['gold_loss'] - b['gold_loss']) for a, b in pairs]
    return dict(rows=len(pairs), same_chain=sum(same_chain), same_pred=sum(a['pred'] == b['pred'] for a, b in pairs),
                same_correct=sum(a['correct'] == b['correct'] for a, b in pairs),
                accuracy_committed=sum(a['correct'] for a, _ in pairs) / len(pairs),
                accuracy_here=sum(b['correct'] for _, b in pairs) / len(pairs),
                max_abs_gold_loss_diff_same_chain=max([d for d, s in zip(dl, same_chain) if s], default=None),
                first_differing_rows=[a['row'] for (a, _), s in zip(pairs, same_chain) if not s][:10])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('files', nargs='+', type=Path, help='committed evaluation files')
    ap.add_argument('--n', type=int, default=None, help="compare the first N rows, rounded up to whole batches of the file's batch size (default: all)")
    ap.add_argument('--threads', type=int, default=1, help='torch threads (the studies run with 1)')
    ap.add_argument('--name', required=True, help='the result is <out-dir>/<name>.json')
    ap.add_argument('--out-dir', type=Path, default=ROOT/'results'/'repro', help='default: results/repro')
    a = ap.parse_args()
    if not a.name.replace('_', '').replace('-', '').isalnum(): fail(f'--name {a.name!r}: letters, digits, _ and - only')
    if a.n is not None and a.n < 1: fail(f'--n {a.n}: must be at least 1')
    files = []
    for f in a.files:
        try: d = json.loads(f.read_text(encoding='utf-8'))
        except (OSError, ValueError) as e: fail(f'{f}: not a readable evaluation file ({e})')
        if not {'task', 'split', 'prompt_ids', 'settings', 'dtype', 'device', 'records'} <= set(d):
            fail(f'{f}: not an evaluation file of a sweep (fields missing)')
        if d['device'] != 'cpu' or d.get('model', 'embedded') != 'embedded':
            fail(f"{f}: made with model {d.get('model')!r} on {d['device']}; this check re-evaluates the embedded model on a CPU")
        files.append((f.resolve(), d))
    out = a.out_dir.resolve()/f'{a.name}.json'

    import torch
    from greater_nb.models import load_model
    from greater_nb.evaluate import evaluate
    from greater_nb.budget import machine
    from greater_nb.sweep import data_version
    torch.set_num_threads(a.threads)
    models, rows = {}, []
    for f, d in files:
        if d.get('data', data_version(d['task'])) != data_version(d['task']): fail(f"{f}: made on data version {d['data']}, this checkout has {data_version(d['task'])}")
        b = d['settings'].get('batch_size', 8)   # whole batches only: a row's numbers depend on the batch it was decoded in
        n = min(-(-(a.n or d['n']) // b) * b, d['n'])
        if d['dtype'] not in models: models[d['dtype']] = load_model(device='cpu', dtype=d['dtype'])
        model, tok = models[d['dtype']]
        print(f"{f.relative_to(ROOT)}: {n} {d['split']} rows, {d['dtype']}, prompt {d['prompt']!r}", flush=True)
        t = time.perf_counter()
        r = evaluate(model, tok, d['task'], d['prompt_ids'], d['split'], n, **d['settings'])
        c = compare(d['records'][:n], r.records)
        rows.append(dict(file=str(f.relative_to(ROOT)), prompt=d['prompt'], dtype=d['dtype'], settings=d['settings'],
                         committed_on=made_on(f), data_checked='data' in d, seconds=round(time.perf_counter() - t, 1), **c))
        print(f"  same chains {c['same_chain']}/{c['rows']}, same answers {c['same_pred']}/{c['rows']}, "
              f"accuracy {c['accuracy_committed']:.2f} committed, {c['accuracy_here']:.2f} here", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + '.tmp')
    tmp.write_text(json.dumps(dict(here=machine(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), files=rows), indent=1) + '\n')
    os.replace(tmp, out)
    print(f'wrote {out}')


if __name__ == '__main__': main()
