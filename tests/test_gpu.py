"""GPU checks (marked `gpu`; skipped without CUDA): the embedded model on CUDA — device placement, bf16, memory —
and CUDA results against the same computation on the CPU."""
import time
import pytest, torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]

from greater_nb.models import load_model
from greater_nb.data import load_task
from greater_nb.evaluate import rollout, evaluate
from greater_nb.gradient import one_hot_gradient
from greater_nb.propose import propose_candidates
from greater_nb.optimizer import GreaterConfig, optimize, ZS_COT

@pytest.fixture(scope='module')
def task(): return load_task('web_of_lies')

@pytest.fixture(scope='module')
def fp32_pair():
    return load_model(device='cuda', dtype='float32'), load_model(device='cpu', dtype='float32')

def test_auto_placement_and_dtype():
    model, tok = load_model()
    assert model.device.type == 'cuda'
    assert model.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    assert all(p.device.type == 'cuda' for p in model.parameters())
    print(f'\nGPU: {torch.cuda.get_device_name()}  auto dtype {model.dtype}  weights {torch.cuda.memory_allocated() / 2**20:.0f} MiB')

def test_rollout_cuda_matches_cpu(fp32_pair, task):
    (gm, tok), (cm, _) = fp32_pair
    p = tok(ZS_COT, add_special_tokens=False)['input_ids']
    exs = task.train[:4]
    g = rollout(gm, tok, task, exs, [p] * 4, max_new_tokens=48)
    c = rollout(cm, tok, task, exs, [p] * 4, max_new_tokens=48)
    same = sum(a == b for a, b in zip(g.reasoning, c.reasoning))
    assert same >= 3, f'only {same}/4 chains identical on CUDA and CPU'
    for k in range(4):
        if g.reasoning[k] == c.reasoning[k]: assert abs(g.gold_nll[k] - c.gold_nll[k]) < 1e-2
    assert torch.allclose(g.prompt_nll, c.prompt_nll, atol=1e-3)

def test_gradient_cuda_matches_cpu(fp32_pair, task):
    (gm, tok), (cm, _) = fp32_pair
    p = tok(ZS_COT, add_special_tokens=False)['input_ids']
    exs = task.train[:2]
    ro = rollout(cm, tok, task, exs, [p] * 2, max_new_tokens=32)
    cands = propose_candidates(cm, tok, [e.question for e in task.train], p, 3)
    assert cands == propose_candidates(gm, tok, [e.question for e in task.train], p, 3)
    gg = one_hot_gradient(gm, tok, task, exs, p, ro.reasoning, 3, cands)
    cg = one_hot_gradient(cm, tok, task, exs, p, ro.reasoning, 3, cands)
    assert torch.allclose(gg.grad, cg.grad, atol=1e-3 * max(1, cg.grad.abs().max().item())), (gg.grad, cg.grad)
    assert torch.argsort(gg.grad)[:3].tolist() == torch.argsort(cg.grad)[:3].tolist()

def test_bf16_evaluate_and_optimize_memory(task):
    torch.cuda.reset_peak_memory_stats()
    model, tok = load_model(device='cuda', dtype='bfloat16')
    t = time.perf_counter()
    r = evaluate(model, tok, task, ZS_COT, split='dev', n=32, batch_size=32, max_new_tokens=128, progress=False)
    ev = time.perf_counter() - t
    res = optimize(model, tok, task, GreaterConfig(steps=3, n_train=8, max_new_tokens=128, batch_size=32), progress=False)
    peak = torch.cuda.max_memory_allocated() / 2**30
    steps = [h['times'] for h in res.history]
    print(f'\nbf16 evaluate 32 dev rows: {ev:.1f}s ({r.new_tokens} reasoning tokens, {r.new_tokens / ev:.0f} tok/s), accuracy {r.accuracy:.3f}')
    print('bf16 optimizer steps (8 train rows, 128-token chains):', [f"{s['total']:.1f}s" for s in steps], steps[-1])
    print(f'peak CUDA memory {peak:.2f} GiB; best prompt {res.best_prompt!r}')
    assert res.steps == 3 and res.best_objective <= res.init_objective
    assert peak < 8, f'{peak:.1f} GiB for a 135M model'

# ---- the fast decoding path (issue 19): `StaticStepper` replayed from a CUDA graph against transformers' eager path ----
from greater_nb.evaluate import decode_reasoning
from greater_nb.steppers import stepper, StaticStepper
from greater_nb.models import ChatLayout, positions

def _rows(tok, task, n):
    p = tok(ZS_COT, add_special_tokens=False)['input_ids']
    qs = task.train + task.dev
    return [ChatLayout(tok).encode(qs[i % len(qs)].question, p)[0] for i in range(n)]

def _feed(step, ids, mask, toks):
    "Prefill, then feed the given tokens one at a time (teacher forcing); the logits of every step."
    out = [step(ids, mask, positions(mask), 1)[:, -1]]
    for t in toks.T:
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        out.append(step(t[:, None], mask, mask.sum(-1, keepdim=True) - 1, 1)[:, -1])
    return torch.stack(out, 1)

@torch.no_grad()
def test_fast_step_logits_match_eager(fp32_pair, task):
    "The same tokens fed through transformers' eager stepper and the CUDA-graph stepper give the same logits (fp32)."
    (gm, tok), _ = fp32_pair
    from greater_nb.models import pad_left
    ids, mask = pad_left(_rows(tok, task, 8), tok.pad_token_id, 'cuda')
    toks = torch.randint(0, len(tok), (8, 24), device='cuda')
    L = ids.shape[1] + 25
    eager, fast = stepper(gm, 8, L, 'hf'), stepper(gm, 8, L)
    assert isinstance(fast, StaticStepper) and fast.graph
    a, b = _feed(eager, ids, mask, toks), _feed(fast, ids, mask, toks)
    assert fast.g is not None  # the steps were replayed from a graph
    err = (a - b).abs().max().item()
    print(f'\nfp32 eager vs CUDA-graph logits over 25 steps: max |diff| {err:.1e}')
    assert err < 1e-3

@torch.no_grad()
def test_fast_step_has_no_sync(fp32_pair, task):
    "CUDA's own sync detector: a decoding step of the graph stepper (after its capture) never synchronises."
    (gm, tok), _ = fp32_pair
    from greater_nb.models import pad_left
    ids, mask = pad_left(_rows(tok, task, 4), tok.pad_token_id, 'cuda')
    st = stepper(gm, 4, ids.shape[1] + 10)
    nxt = st(ids, mask, positions(mask), 1)[:, -1].argmax(-1)
    mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    nxt = st(nxt[:, None], mask, mask.sum(-1, keepdim=True) - 1, 1)[:, -1].argmax(-1)  # captures the graph
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for _ in range(8):
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            nxt = st(nxt[:, None], mask, mask.sum(-1, keepdim=True) - 1, 1)[:, -1].argmax(-1)
    finally: torch.cuda.set_sync_debug_mode(0)

@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_fast_path_greedy_tokens_and_speed(task, dtype):
    "decode_reasoning at batch 32: the fast path ('auto' on CUDA) against the eager reference ('hf', a check per token)."
    model, tok = load_model(device='cuda', dtype=dtype)
    inputs = _rows(tok, task, 32)
    def run(**kw):
        decode_reasoning(model, tok, inputs, 4, **kw)  # warm-up
        torch.cuda.synchronize(); t = time.perf_counter()
        d = decode_reasoning(model, tok, inputs, 128, **kw); torch.cuda.synchronize()
        return d, (time.perf_counter() - t) / max(map(len, d.reasoning)) * 1e3
    (ref, ms_ref), (fast, ms_fast) = run(impl='hf', sync_every=1), run()
    assert isinstance(fast.step, StaticStepper)
    same = sum(a == b for a, b in zip(ref.reasoning, fast.reasoning))
    print(f'\n{dtype} batch 32, 128 tokens: eager {ms_ref:.1f} ms/step, fast {ms_fast:.1f} ms/step (target <= 10 on H100-class); '
          f'identical greedy chains {same}/32')
    # the paths differ only in float rounding (attention over all preallocated columns, fused projections): in fp32 a
    # near-tie may flip at most a chain; bf16 rounds coarser, so there the count is reported, not asserted
    if dtype == 'float32': assert same >= 31, f'only {same}/32 chains identical'
