"""`make bench`: the whole speed story of the embedded model on this machine, in one run.

1. the machine: CPU model and its bf16-relevant flags, cores, load average (other work sharing the cores shows there),
   GPU, torch and transformers versions; a measured copy bandwidth;
2. decoding: tokens/s and ms per decoding step in each dtype, next to the memory-bandwidth floor (weight bytes /
   measured bandwidth); on CUDA at batch 32, transformers' eager path (the reference) beside the fast path
   (`StaticStepper`, CUDA graphs) with their greedy tokens compared;
3. the draft policy (appendix a2): the same rows decoded with and without drafts in each dtype;
4. seconds per GReaTer step, by stage, and peak memory, each configuration in its own process, with the ratio of the
   paper step to its batched reference (the same (1 + mu) * n chains in one plain batch);
5. GreaterPrompt side by side where it is installed, or why not.

Results go to bench/results.json (`--quick`: bench/quick.json) and a text report on stdout. Usage:
    python tools/bench.py                 # everything (fp32 and bf16; paper-faithful and toolkit-like steps)
    python tools/bench.py --quick         # the same story on a small workload (minutes; for testing)
    python tools/bench.py --drafts        # only part 3, written to bench/drafts.json (the numbers appendix a2 shows)
    python tools/bench.py --steps 3 --dtypes bfloat16 --modes paper
    python tools/bench.py --distributed   # the same run in 1 process and under torchrun with 2 (gloo): bench/distributed.json
    python tools/bench.py --prefix-cache off on --out bench/prefix.json   # with and without the question-prefix cache
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BF16_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile')
COT = 'Use proper logical reasoning and think step by step. Finally, give the actual correct answer.'

def machine_info() -> dict:
    "What every figure was measured on: CPU model and flags, cores, load average, GPU, library versions."
    import platform, torch, transformers
    try: info = Path('/proc/cpuinfo').read_text()
    except OSError: info = ''
    model = next((l.split(':', 1)[1].strip() for l in info.splitlines() if l.startswith('model name')), platform.processor() or 'unknown')
    flags = set(next((l.split(':', 1)[1].split() for l in info.splitlines() if l.startswith('flags')), []))
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return dict(machine=os.uname().machine, cpus=os.cpu_count(), cpu_model=model, cpu_flags=[f for f in BF16_FLAGS if f in flags],
                gpu=gpu, torch=torch.__version__, transformers=transformers.__version__, torch_threads=torch.get_num_threads(),
                load_average=[round(x, 2) for x in os.getloadavg()], date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))

def where(m:dict) -> str:
    "One line naming the hardware of a figure."
    hw = m['gpu'] or f"{m['cpu_model']} ({m['cpus']} cores; {', '.join(m['cpu_flags']) or 'no AVX2'})"
    return f"{hw}, {m['torch_threads']} torch thread(s), load average {m['load_average'][0]:.1f} when measured"

def bandwidth(device:str, mib:int=256, reps:int=5) -> float:
    "Measured copy bandwidth in GB/s (bytes read + written per second, best of `reps`): the floor's denominator."
    import torch
    a = torch.empty(mib * 2**20, dtype=torch.uint8, device=device); b = torch.empty_like(a)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    b.copy_(a); sync(); best = float('inf')
    for _ in range(reps):
        t = time.perf_counter(); b.copy_(a); sync(); best = min(best, time.perf_counter() - t)
    return 2 * a.numel() / best / 1e9

def rows(tok, task:str, n:int, prompt:list[int]) -> list[list[int]]:
    "`n` chat-formatted rows of `task`'s training questions under `prompt` (questions repeat when n is larger)."
    from greater_nb.data import load_task
    from greater_nb.models import ChatLayout
    qs = load_task(task).train
    return [ChatLayout(tok).encode(qs[i % len(qs)].question, prompt)[0] for i in range(n)]

def decode_speed(dtype:str, device:str, batch:int, tokens:int, task:str, impls:list[str]) -> dict:
    "Tokens/s and ms per decoding step of each stepper at `batch` rows, beside the bandwidth floor; greedy tokens compared to the first."
    import torch
    from greater_nb.models import load_model
    from greater_nb.evaluate import decode_reasoning
    model, tok = load_model(dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    inputs = rows(tok, task, batch, tok(COT, add_special_tokens=False)['input_ids'])
    weights = sum(p.numel() * p.element_size() for p in model.parameters())  # tied embeddings counted once
    bw = bandwidth(device)
    out, ref = dict(dtype=str(model.dtype).replace('torch.', ''), device=device, batch=batch, tokens=tokens, weight_bytes=weights,
                    bandwidth_gbs=round(bw, 1), floor_ms=round(weights / bw / 1e6, 3), impls={}), None
    for impl in impls:
        def run(n):
            kw = dict(sync_every=1) if impl == 'hf' else {}  # the eager reference: transformers' forward, a check per token
            sync(); t = time.perf_counter(); d = decode_reasoning(model, tok, inputs, n, impl=impl, **kw); sync()
            return time.perf_counter() - t, d.reasoning
        run(2)  # warm-up (kernels, allocator)
        t1, _ = run(1); tn, r = run(tokens)
        steps = max(map(len, r)) - 1  # sequential steps after the prefill
        ms = (tn - t1) / max(steps, 1) * 1e3
        out['impls'][impl] = dict(ms_per_step=round(ms, 2), tokens_per_s=round(sum(map(len, r)) / tn, 1), steps=steps,
                                  seconds=round(tn, 3), same_tokens_as_first=None if ref is None else r == ref)
        ref = r if ref is None else ref
    return out

def drafts_speed(dtype:str, device:str, n:int, tokens:int, task:str) -> dict:
    "The draft policy's evidence: rows decoded under a prompt one token away from the current one, with the current prompt's chains as drafts and without."
    import torch
    from greater_nb.models import load_model
    from greater_nb.evaluate import decode_reasoning
    model, tok = load_model(dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    cot = tok(COT, add_special_tokens=False)['input_ids']
    cand = cot[:4] + tok(' careful', add_special_tokens=False)['input_ids'][:1] + cot[5:]  # one token substituted, as a candidate is
    cur, new = rows(tok, task, n, cot), rows(tok, task, n, cand)
    from greater_nb.steppers import drafts_pay
    policy = drafts_pay(model)
    drafts = decode_reasoning(model, tok, cur, tokens).reasoning
    def timed(use:bool):
        model.greater_drafts = use
        sync(); t = time.perf_counter(); r = decode_reasoning(model, tok, new, tokens, drafts=drafts).reasoning; sync()
        return time.perf_counter() - t, r
    timed(False)  # warm-up
    (tp, plain), (td, drafted) = timed(False), timed(True)
    tp2, _ = timed(False); td2, _ = timed(True)  # twice each, alternating: the better of two under shared cores
    del model.greater_drafts
    from itertools import takewhile
    acc = sum(sum(1 for _ in takewhile(lambda x: x[0] == x[1], zip(d, r))) for d, r in zip(drafts, plain))
    return dict(dtype=dtype, device=device, rows=n, tokens=tokens, plain_s=round(min(tp, tp2), 3), drafted_s=round(min(td, td2), 3),
                accepted=acc, draft_tokens=sum(map(len, drafts)), same=drafted == plain, policy_uses_drafts=policy,
                load_average=[round(x, 2) for x in os.getloadavg()])

def greaterprompt_status() -> str|None:
    "None if the GreaterPrompt toolkit is importable here, else why the side-by-side run is skipped."
    import importlib.util
    if importlib.util.find_spec('greaterprompt') is None:
        return ("GreaterPrompt is not installed: greaterprompt 1.1.4 (PyPI) pins torch==2.3.1, transformers==4.48.3 and vllm, "
                "which cannot be installed beside this project's torch; the side-by-side run is skipped")
    return 'greaterprompt is importable, but this bench does not drive its optimizer yet: the side-by-side run is skipped'


def one(dtype:str, mode:str, steps:int, n_train:int, tokens:int, task:str, grad_batch_size:int, prefix_cache:bool=True, device:str='cpu') -> dict:
    "Run `steps` optimizer steps in this process and measure them."
    import torch
    from greater_nb.models import load_model
    from greater_nb.data import load_task
    from greater_nb.optimizer import GreaterConfig, optimize
    from greater_nb.evaluate import rollout
    model, tok = load_model(dtype=dtype, device=device)
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
    if device.startswith('cuda'): torch.cuda.synchronize()
    batched = time.perf_counter() - t
    return dict(dtype=str(model.dtype).replace('torch.', ''), device=device, mode=mode, prefix_cache=prefix_cache, task=task, n_train=n_train, max_new_tokens=tokens, grad_batch_size=grad_batch_size, steps=len(h), s_per_step=stages['total'],
                stages=stages, chains_batched_s=batched, chain_tokens=sum(map(len, ro.reasoning)),
                peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, torch_threads=torch.get_num_threads(),
                peak_cuda_gib=torch.cuda.max_memory_allocated() / 2**30 if device.startswith('cuda') else None)

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

def report_steps(results:list[dict], m:dict) -> list[str]:
    "The step figures as ratios: paper step / its batched reference, and toolkit reasoning in bf16 / in fp32."
    lines = []
    for r in results:
        if r['mode'] == 'paper':
            x = r['s_per_step'] / r['chains_batched_s']
            lines.append(f"paper step {r['dtype']}: {x:.2f}x its batched reference (target <= 1.2: {'met' if x <= 1.2 else 'NOT met'})")
    tk = {r['dtype']: r['stages']['reasoning'] for r in results if r['mode'] == 'toolkit' and r['prefix_cache']}
    if 'bfloat16' in tk and 'float32' in tk and tk['float32'] > 0:
        x = tk['bfloat16'] / tk['float32']
        target = 'bf16 CPU: target <= 1.0' if 'avx512_bf16' in m['cpu_flags'] or 'amx_bf16' in m['cpu_flags'] else 'no bf16 hardware: no target'
        lines.append(f"toolkit reasoning bf16 / fp32: {x:.2f}x ({target}{': met' if 'target <=' in target and x <= 1 else ': NOT met' if 'target <=' in target else ''})")
    return lines

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'])
    ap.add_argument('--modes', nargs='+', default=['toolkit', 'paper'], help="toolkit: candidates scored on the current reasoning; paper: fresh reasoning")
    ap.add_argument('--steps', type=int, default=4)
    ap.add_argument('--n-train', type=int, default=3)
    ap.add_argument('--tokens', type=int, default=128)
    ap.add_argument('--task', default='web_of_lies')
    ap.add_argument('--device', default='auto', help="'auto' (cuda if available, else cpu), 'cpu' or 'cuda'")
    ap.add_argument('--decode-batch', type=int, default=None, help='rows of the decoding figure (default: 32 on CUDA, 3 on a CPU)')
    ap.add_argument('--decode-tokens', type=int, default=None, help='tokens of the decoding figure (default: --tokens)')
    ap.add_argument('--quick', action='store_true', help='a small workload (2 steps, 2 rows, 32 tokens) for testing; writes bench/quick.json')
    ap.add_argument('--drafts', action='store_true', help='only the draft-policy measurement: bench/drafts.json')
    ap.add_argument('--no-steps', action='store_true', help='skip the optimizer steps (part 4)')
    ap.add_argument('--grad-batch-size', type=int, default=1, help='rows per gradient pass (1 keeps peak memory lowest)')
    ap.add_argument('--prefix-cache', nargs='+', default=['on'], choices=['on', 'off'], help='reuse the question prefix (both: on off)')
    ap.add_argument('--out', default=None, help='default: bench/results.json (bench/quick.json with --quick)')
    ap.add_argument('--one', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--distributed', action='store_true', help='1 process against 2 under torchrun (gloo): bench/distributed.json')
    ap.add_argument('--one-dist', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick: a.steps, a.n_train, a.tokens = min(a.steps, 2), min(a.n_train, 2), min(a.tokens, 32)
    for name in ('steps', 'n_train', 'tokens'):
        if getattr(a, name) < 1: sys.exit(f'--{name.replace("_", "-")} must be at least 1, got {getattr(a, name)}')
    import torch
    if a.device == 'auto': a.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if a.device.startswith('cuda') and not torch.cuda.is_available(): sys.exit('--device cuda: no CUDA device here; use --device cpu')
    if a.one_dist:
        r = one_dist(a.one_dist)
        if r: print(json.dumps(r))
        return
    if a.distributed: return distributed()
    if a.one:
        dtype, mode, pc = a.one.split(':')
        print(json.dumps(one(dtype, mode, a.steps, a.n_train, a.tokens, a.task, a.grad_batch_size, pc == 'on', a.device)))
        return
    cuda = a.device.startswith('cuda')
    m = machine_info()
    print(f"# make bench{' --quick' if a.quick else ''}: {m['date']}, torch {m['torch']}, transformers {m['transformers']}, "
          f"{m['torch_threads']} torch threads\n# {where(m)}", flush=True)
    if not cuda: print('# the CPU is shared with other work when the load average exceeds its cores: every figure below is then contended', flush=True)
    res = dict(machine=m['machine'], cpus=m['cpus'], date=m['date'][:10], info=m, device=a.device, quick=a.quick)

    # 3. the draft policy
    dr_tokens = [32] if a.quick else [32, 64]  # two lengths: a different share of each draft is accepted
    res['drafts'] = [drafts_speed(dt, a.device, 3, n, a.task) for n in dr_tokens for dt in a.dtypes]
    print("\n## drafts: 3 rows, one token away from the drafts' prompt")
    for r in res['drafts']:
        print(f"{r['tokens']:3d} tokens {r['dtype']:9s} plain {r['plain_s']:.2f} s, drafted {r['drafted_s']:.2f} s ({r['drafted_s'] / r['plain_s']:.2f}x; "
              f"{r['accepted']}/{r['draft_tokens']} draft tokens accepted; same chains {r['same']}); policy uses drafts: {r['policy_uses_drafts']}", flush=True)
    if a.drafts:
        out = ROOT/(a.out or 'bench/drafts.json')
        out.write_text(json.dumps(dict(machine=where(m), info=m, results=res['drafts']), indent=1) + '\n')
        print(f'wrote {out}'); return

    # 2. decoding speed and the bandwidth floor
    B = a.decode_batch or (32 if cuda else 3)
    T = a.decode_tokens or (16 if a.quick else a.tokens)
    impls = ['hf', 'static'] if cuda else ['lean']
    res['decode'] = [decode_speed(dt, a.device, B, T, a.task, impls) for dt in a.dtypes]
    print(f'\n## decoding: batch {B}, up to {T} tokens; floor = weight bytes / measured copy bandwidth')
    for d in res['decode']:
        for impl, r in d['impls'].items():
            same = '' if r['same_tokens_as_first'] is None else f", greedy tokens equal to {impls[0]}'s: {r['same_tokens_as_first']}"
            target = f" (target <= 10 ms on an H100-class GPU: {'met' if r['ms_per_step'] <= 10 else 'NOT met'})" if cuda and B == 32 else ''
            print(f"{d['dtype']:9s} {impl:6s} {r['ms_per_step']:8.2f} ms/step{target}, {r['tokens_per_s']:8.1f} tokens/s; floor {d['floor_ms']:.2f} ms/step "
                  f"({d['weight_bytes'] / 2**20:.0f} MiB at {d['bandwidth_gbs']:.0f} GB/s){same}", flush=True)

    # 4. optimizer steps, each configuration in its own process
    results = []
    if not a.no_steps:
        print(f'\n## optimizer steps: {a.task}, {a.n_train} rows, {a.tokens}-token chains, {a.steps} steps')
        for mode, dtype, pc in [(mo, d, pc) for mo in a.modes for d in a.dtypes for pc in a.prefix_cache]:
            cmd = [sys.executable, __file__, '--one', f'{dtype}:{mode}:{pc}', '--steps', str(a.steps), '--n-train', str(a.n_train),
                   '--tokens', str(a.tokens), '--task', a.task, '--grad-batch-size', str(a.grad_batch_size), '--device', a.device]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode: sys.exit(f'bench {dtype}:{mode} failed:\n{out.stderr[-3000:]}')
            r = json.loads(out.stdout.strip().splitlines()[-1]); r['load_average'] = [round(x, 2) for x in os.getloadavg()]; results.append(r)
            s = r['stages']
            target = f" (target <= 1 s for 8 rows x 128 tokens: {'met' if r['s_per_step'] <= 1 else 'NOT met'})" if cuda and mode == 'paper' else ''
            print(f"{mode:8s} {r['dtype']:9s} prefix {pc:3s} {r['s_per_step']:6.2f} s/step{target}  (reasoning {s['reasoning']:.2f}, proposal {s['proposal']:.2f}, "
                  f"gradient {s['gradient']:.2f}, candidates {s['candidates']:.2f})  (1+mu) chains batched {r['chains_batched_s']:.2f}s "
                  f"[{r['chain_tokens']} tokens]  peak RSS {r['peak_rss_gib']:.2f} GiB  load {r['load_average'][0]:.1f}", flush=True)
        for line in report_steps(results, m): print(line)
    res['results'] = results

    # 5. GreaterPrompt
    res['greaterprompt'] = greaterprompt_status()
    print(f"\n## GreaterPrompt side by side\n{res['greaterprompt']}")
    res['load_average_after'] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT/(a.out or ('bench/quick.json' if a.quick else 'bench/results.json'))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + '\n')
    print(f'wrote {out}')

if __name__ == '__main__': main()
