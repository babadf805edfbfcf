"""`make run`: the configuration chosen on dev rows, optimized on the embedded model, then the honest comparison.

Reads the committed dev choice (the best optimizing configuration and the best fixed prompt on dev rows): the main
study's own, results/v2_main/choice.json, once it is committed, else the first design's results/choice.json. It runs
that configuration with seed 0 in float32, evaluates its optimized prompt on the test rows, and prints
three arms on the same rows: the optimizer's start, the optimized prompt, and the best fixed prompt, with accuracy,
answer CE, the share of chains the reasoning budget cut, and paired 95% bootstrap intervals over rows. A fixed
prompt's committed test evaluation is read instead of recomputed when its settings match this run's (it says so).

Usage: python tools/make_run.py [--choice results/v2_main/choice.json] [--rows N] [--log-dir runs]
"""
import argparse, json, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def committed_eval(task:str, prompt_ids:list[int], cfg, results:Path) -> tuple[Path, dict]|tuple[None, None]:
    """A committed test evaluation of these prompt tokens on every test row, float32 on the CPU, with this run's evaluation
    settings. It is found where a sweep puts it (`eval_rel`, named by `eval_key`, which covers the task's data and code versions)."""
    from greater_nb.sweep import Job, eval_rel
    kw = dict(max_new_tokens=cfg.max_new_tokens, answer_tokens=cfg.answer_tokens, batch_size=cfg.batch_size)
    job = Job('make run', str(results), task, 'start', None, None, None, {'test': None}, kw, None, 'float32', 'cpu', 1)
    for f in sorted(results.glob(f"*/{eval_rel(job, 'test', prompt_ids)}")):
        return f, json.loads(f.read_text(encoding='utf-8'))
    return None, None

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--choice', type=Path, default=None, help='default: results/v2_main/choice.json if committed, else results/choice.json')
    ap.add_argument('--rows', type=int, default=None, help='compare on the first N test rows only (default: all; a quicker, noisier look)')
    ap.add_argument('--log-dir', type=Path, default=ROOT/'runs', help="where the run's log goes (default: runs/)")
    a = ap.parse_args(argv)
    if a.rows is not None and a.rows < 1: sys.exit(f'make run: --rows must be at least 1, not {a.rows}')
    from greater_nb.studies import RESULTS, three_way, chains_cut, where_run, choice_of, choice_config
    from greater_nb.optimizer import optimize
    from greater_nb.sweep import results_table
    a.choice = a.choice or next(f for f in (RESULTS/'v2_main'/'choice.json', RESULTS/'choice.json') if f.exists())
    try: choice = json.loads(a.choice.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e: sys.exit(f'make run: cannot read the dev choice {a.choice}: {e}')
    try: opt, fixed, cfg, task_name = choice_of(choice, 'optimizer'), choice_of(choice, 'fixed'), choice_config(choice, seed=0), choice['task']
    except (KeyError, TypeError, ValueError) as e: sys.exit(f'make run: {a.choice} is not a dev choice (tools/choose_study.py writes one): {e!r}')
    t = results_table(opt['study'], RESULTS)
    past = t[(t.variant == opt['variant']) & (t.seed == 0) & (t.arm == 'best')].optimize_seconds.tolist()
    ev = [f for split in ('test', 'dev')   # the test evaluation's time, else the dev one's (as many rows, the same budget)
          for f in t[(t.variant == opt['variant']) & (t.seed == 0) & (t.split == split) & (t.arm == 'best')].eval_file]
    ev_s = json.loads((RESULTS/opt['study']/ev[0]).read_text())['seconds'] if ev else 0
    mins = f"about {(past[0] + ev_s) / 60:.0f} minutes" if past else 'a quarter of an hour or more'
    print(f"make run: {task_name}, the configuration chosen on dev rows on {choice.get('date', 'an unrecorded date')} ({a.choice}):\n"
          f"  {opt['variant']} from study '{opt['study']}' ({cfg.steps} steps, {cfg.max_new_tokens}-token reasoning budget, "
          f"n_train={cfg.n_train}, start {cfg.init_prompt!r}), seed 0, float32 on this CPU.\n"
          f"  It takes {mins} on a 2-core CPU" + (f" (its committed run: {past[0] / 60:.0f} min of optimization, "
          f"{where_run(opt['study'], RESULTS)}; then one test evaluation, {ev_s / 60:.0f} min)" if past else '') + '.\n'
          f"  The best fixed prompt on dev was {fixed['prompt']!r} ({fixed['dev_accuracy']:.1%} on dev, against "
          f"{opt['dev_accuracy']:.1%} for this configuration's optimized prompts).", flush=True)
    if choice.get('note'): print(f"  Note on the choice: {choice['note']}", flush=True)
    import torch
    from greater_nb.models import load_model
    from greater_nb.data import load_task
    from greater_nb.evaluate import evaluate, prompt_ids_of
    task = load_task(task_name)
    model, tok = load_model(dtype='float32')
    log = a.log_dir/f"{task.name}-make-run-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    res = optimize(model, tok, task, cfg, log, progress=True)
    print(f"\noptimized prompt: {res.best_prompt!r} (log: {log})", flush=True)
    kw = dict(split='test', n=a.rows, batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens, answer_tokens=cfg.answer_tokens)
    arms, ids = {}, {}
    same = cfg.init_prompt == fixed['prompt']   # e.g. an arm started from the best fixed prompt: one arm, evaluated once
    for name, prompt in ((('start = best fixed', cfg.init_prompt),) if same else (('start', cfg.init_prompt), ('best fixed', fixed['prompt']))):
        ids[name] = prompt_ids_of(tok, prompt)
        f, d = committed_eval(task.name, ids[name], cfg, RESULTS)
        if d: print(f"{name} prompt {prompt!r}: its committed test evaluation is read, not recomputed ({f.relative_to(ROOT)})"); recs = d['records'][:a.rows]
        else: print(f"{name} prompt {prompt!r}: evaluating on the test rows", flush=True); recs = evaluate(model, tok, task, ids[name], **kw).records
        arms[name] = recs
    twin = next((k for k, v in ids.items() if v == list(res.best_ids)), None)   # the optimizer kept (or came back to) that prompt
    if twin: print(f'optimized prompt: the same tokens as the {twin} prompt; its evaluation is used', flush=True); arms['optimized'] = arms[twin]
    else: print('optimized prompt: evaluating on the test rows', flush=True); arms['optimized'] = evaluate(model, tok, task, res.best_ids, **kw).records
    data = {k: dict(correct=[[r['correct'] for r in v]], gold_loss=[[r['gold_loss'] for r in v]],
                    cut=[chains_cut(v, tok, cfg.max_new_tokens)]) for k, v in arms.items()}
    table, deltas = three_way(data, 'optimized')
    print(f"\n{task.name}, the same {len(arms['optimized'])} test rows (never seen by the optimizer or by the dev choice), "
          f"float32, {cfg.max_new_tokens}-token reasoning budget:")
    print(table.assign(accuracy=table.accuracy.map('{:.1%}'.format), CE=table.CE.map('{:.3f}'.format),
                       chains_cut=table.chains_cut.map('{:.0%}'.format)).drop(columns='seeds').to_string(index=False))
    print('\noptimized prompt against each, paired on the same rows (95% bootstrap interval over rows):')
    for (k, m), p in deltas.items():
        if k == twin: print(f"  vs {k} ({m}): identical prompt tokens, so Δ = 0 by construction (not a measurement of noise)"); continue
        print(f"  vs {k} ({m}): {p} — {'beyond row noise' if p.excludes_zero else 'not distinguishable from row noise'}")

if __name__ == '__main__': main()
