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
