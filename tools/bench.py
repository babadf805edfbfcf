"""`make bench`: seconds per GReaTer step, by stage, and peak memory, on the embedded model.

Each configuration runs in its own process (for an honest peak RSS). Results go to bench/results.json and a
table on stdout. Usage:
    python tools/bench.py                 # the default matrix (fp32 and bf16; paper-faithful and toolkit-like steps)
    python tools/bench.py --steps 3 --dtypes bfloat16 --modes paper
    python tools/bench.py --distributed   # the same run in 1 process and under torchrun with 2 (gloo): bench/distributed.json
    python tools/bench.py --prefix-cache off on --out bench/prefix.json   # with and without the question-prefix cache
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def one(dtype:str, mode:str, steps:int, n_train:int, tokens:int, task:str, grad_batch_size:int, prefix_cache:bool=True) -> dict:
    "Run `steps` optimizer steps in this process and measure them."
    import torch
    from greater_nb.models import load_model
    from greater_nb.data import load_task
    from greater_nb.optimizer import GreaterConfig, optimize
    from greater_nb.evaluate import rollout
    model, tok = load_model(dtype=dtype, device='cpu')
    cfg = GreaterConfig(steps=steps, n_train=n_train, max_new_tokens=tokens, fresh_reasoning=(mode == 'paper'),
                        batch_size=16, grad_batch_size=grad_batch_size, early_stop=False,
                        prefix_cache=prefix_cache)
    t = time.perf_counter()
    res = optimize(model, tok, task, cfg, progress=False)
    wall = time.perf_counter() - t
    h = res.history[1:] if len(res.history) > 1 else res.history   # step 1 includes the first reasoning
    stages = {k: sum(r['times'][k] for r in h) / len(h) for k in ('reasoning', 'proposal', 'gradient', 'candidates', 'total')}
    # the reference cost for target (a): the (1 + mu) sets of chains of the last step, generated in one batch
    exs = load_task(task).train[:n_train]
    last = h[-1]
    p = last['prompt_before_ids']
    prompts = [p] + [p[:last['position']] + [c] + p[last['position'] + 1:] for c in last['selected']]
    t = time.perf_counter()
    ro = rollout(model, tok, load_task(task), [e for _ in prompts for e in exs], [q for q in prompts for _ in exs], tokens)
    batched = time.perf_counter() - t
    return dict(dtype=dtype, mode=mode, prefix_cache=prefix_cache, task=task, n_train=n_train, max_new_tokens=tokens, grad_batch_size=grad_batch_size, steps=len(h), s_per_step=stages['total'],
                stages=stages, chains_batched_s=batched, chain_tokens=sum(map(len, ro.reasoning)),
                peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, torch_threads=torch.get_num_threads())

DIST_CFG = dict(task='web_of_lies', steps=2, n_train=4, max_new_tokens=24, k=5, q=2, mu=3, seed=0)

def one_dist(log:str) -> dict|None:
    "Under torchrun or alone: run `DIST_CFG` in float32 with a run log; rank 0 returns its timings (other ranks None)."
    t0 = time.perf_counter()
    import torch
    from greater_nb.models import load_model
    from greater_nb.optimizer import GreaterConfig, optimize
    from greater_nb.distributed import is_main, world_size
    model, tok = load_model(dtype='float32', device='cpu')
    c = dict(DIST_CFG); task = c.pop('task')
    t = time.perf_counter()
    res = optimize(model, tok, task, GreaterConfig(**c, early_stop=False), log_path=log, progress=False)
    run_s = time.perf_counter() - t
    if not is_main(): return None
    return dict(processes=world_size(), optimize_s=run_s, wall_s=time.perf_counter() - t0, torch_threads=torch.get_num_threads(),
                s_per_step=sum(r['times']['total'] for r in res.history) / len(res.history),
                stages={k: sum(r['times'][k] for r in res.history) / len(res.history) for k in ('reasoning', 'proposal', 'gradient', 'candidates')})

def distributed():
    "The same run in one process and in two (torchrun, gloo): wall time, and whether the step records agree."
    import tempfile
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    load, runs, recs = os.getloadavg(), [], []
    with tempfile.TemporaryDirectory() as d:
        for n in (1, 2):
            log = Path(d)/f'run{n}.jsonl'
            launch = [] if n == 1 else ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(n)]
            cmd = [sys.executable, *launch, __file__, *([] if n == 1 else ['--']), '--one-dist', str(log)]
            t = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
            if out.returncode: sys.exit(f'bench --distributed ({n} processes) failed:\n{out.stderr[-3000:]}')
            r = json.loads([l for l in out.stdout.splitlines() if l.startswith('{')][-1])
            r['launch_s'] = time.perf_counter() - t  # the whole command, torchrun and model loading included
            runs.append(r); recs.append([json.loads(l) for l in log.read_text().splitlines()])
            print(f"{n} process(es): {r['optimize_s']:.1f} s optimize, {r['s_per_step']:.1f} s/step, {r['launch_s']:.1f} s whole command", flush=True)
    keys = ('candidates', 'selected', 'chosen', 'prompt_ids')
    same = [[r.get(k) for k in keys] for r in recs[0][1:]] == [[r.get(k) for k in keys] for r in recs[1][1:]]
    res = dict(machine=os.uname().machine, cpus=os.cpu_count(), date=time.strftime('%Y-%m-%d'), dtype='float32', backend='gloo',
               torch_threads_per_process=1, load_before=[round(x, 2) for x in load], load_after=[round(x, 2) for x in os.getloadavg()],
               config=DIST_CFG,
               runs=runs, speedup=runs[0]['optimize_s'] / runs[1]['optimize_s'], same_records=same)
    out = ROOT/'bench'/'distributed.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + '\n')
    print(f"speed-up {res['speedup']:.2f}x, same choices: {same}; wrote {out}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'])
    ap.add_argument('--modes', nargs='+', default=['toolkit', 'paper'], help="toolkit: candidates scored on the current reasoning; paper: fresh reasoning")
    ap.add_argument('--steps', type=int, default=4)
    ap.add_argument('--n-train', type=int, default=3)
    ap.add_argument('--tokens', type=int, default=128)
    ap.add_argument('--task', default='web_of_lies')
    ap.add_argument('--grad-batch-size', type=int, default=1, help='rows per gradient pass (1 keeps peak memory lowest)')
    ap.add_argument('--prefix-cache', nargs='+', default=['on'], choices=['on', 'off'], help='reuse the question prefix (both: on off)')
    ap.add_argument('--out', default='bench/results.json')
    ap.add_argument('--one', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--distributed', action='store_true', help='1 process against 2 under torchrun (gloo): bench/distributed.json')
    ap.add_argument('--one-dist', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one_dist:
        r = one_dist(a.one_dist)
        if r: print(json.dumps(r))
        return
    if a.distributed: return distributed()
    if a.one:
        dtype, mode, pc = a.one.split(':')
        print(json.dumps(one(dtype, mode, a.steps, a.n_train, a.tokens, a.task, a.grad_batch_size, pc == 'on')))
        return
    results = []
    for mode, dtype, pc in [(m, d, pc) for m in a.modes for d in a.dtypes for pc in a.prefix_cache]:
        cmd = [sys.executable, __file__, '--one', f'{dtype}:{mode}:{pc}', '--steps', str(a.steps), '--n-train', str(a.n_train),
               '--tokens', str(a.tokens), '--task', a.task, '--grad-batch-size', str(a.grad_batch_size)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if out.returncode: sys.exit(f'bench {dtype}:{mode} failed:\n{out.stderr[-3000:]}')
        r = json.loads(out.stdout.strip().splitlines()[-1]); results.append(r)
        s = r['stages']
        print(f"{mode:8s} {dtype:9s} prefix {pc:3s} {r['s_per_step']:6.2f} s/step  (reasoning {s['reasoning']:.2f}, proposal {s['proposal']:.2f}, "
              f"gradient {s['gradient']:.2f}, candidates {s['candidates']:.2f})  (1+mu) chains batched {r['chains_batched_s']:.2f}s "
              f"[{r['chain_tokens']} tokens]  peak RSS {r['peak_rss_gib']:.2f} GiB", flush=True)
    out = ROOT/a.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(machine=os.uname().machine, cpus=os.cpu_count(), date=time.strftime('%Y-%m-%d'), results=results), indent=1))
    print(f'wrote {out}')

if __name__ == '__main__': main()
