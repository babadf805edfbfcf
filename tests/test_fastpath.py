"""The fast decoding path (issue 19) on the CPU: `StaticStepper`'s fixed-shape step (the code CUDA replays from a graph)
gives the greedy tokens of the eager reference, and decoding reads the device from the host at most once every
`sync_every` tokens, counted by patching every tensor-to-host conversion. Cheap: two rows, 16-32 tokens, float32."""
import contextlib
from unittest import mock
import pytest, torch

from greater_nb.models import load_model, ChatLayout
from greater_nb.data import load_task
from greater_nb.evaluate import decode_reasoning, rollout, eos_ids
from greater_nb.steppers import stepper, StaticStepper
from greater_nb.prefix import PrefixCache
import greater_nb.evaluate as ev

pytestmark = pytest.mark.xdist_group('fastpath')  # one pytest-xdist worker runs this file (its fixtures are built once per session)
COT = 'Use proper logical reasoning and think step by step. Finally, give the actual correct answer.'

@pytest.fixture(scope='session')
def setup():
    torch.manual_seed(0)
    model, tok = load_model(dtype='float32', device='cpu')
    task = load_task('sports_understanding')
    exs = task.train[:2]
    cot = tok(COT, add_special_tokens=False)['input_ids']
    inputs = [ChatLayout(tok).encode(e.question, cot)[0] for e in exs]
    return model, tok, task, exs, cot, inputs

@pytest.fixture(scope='session')
def reference(setup):
    "The eager reference: transformers' own forward, checking for the end after every token."
    model, tok, task, exs, cot, inputs = setup
    return decode_reasoning(model, tok, inputs, 32, impl='hf', sync_every=1).reasoning

# Every way a tensor's value reaches the host. On CUDA each waits for the queued work: a synchronisation.
SYNCS = ('item', 'tolist', '__bool__', '__int__', '__float__', '__index__', 'cpu', 'numpy')

@contextlib.contextmanager
def count_syncs():
    "Count calls of every tensor-to-host conversion while the block runs."
    n = {'calls': 0}
    def wrap(f):
        def counted(*a, **k): n['calls'] += 1; return f(*a, **k)
        return counted
    with contextlib.ExitStack() as st:
        for name in SYNCS: st.enter_context(mock.patch.object(torch.Tensor, name, wrap(getattr(torch.Tensor, name))))
        yield n

def test_counter_sees_syncs():
    "The counter itself: each conversion counts once."
    x = torch.tensor([1.5, 2.])
    with count_syncs() as n:
        x[0].item(); x.tolist(); bool(x[0] > 0); int(x[1]); float(x[0])
    assert n['calls'] == 5

def test_static_same_greedy_tokens(setup, reference):
    "The fixed-shape step (run eagerly on the CPU) and the lean stepper give the reference's greedy chains, with any check interval."
    model, tok, task, exs, cot, inputs = setup
    assert min(map(len, reference)) == 32  # no row ends early: every step is compared
    for impl, k in [('static', 16), ('lean', 8)]:  # static with k = 1 and 8: test_syncs_per_token
        got = decode_reasoning(model, tok, inputs, 32, impl=impl, sync_every=k)
        assert got.reasoning == reference, (impl, k)
    assert isinstance(decode_reasoning(model, tok, inputs, 2, impl='static').step, StaticStepper)

def test_static_rollout_matches_eager(setup):
    "Through `rollout`: the question-prefix cache loaded into the static stepper, extraction on its cache, answers and gold CE."
    model, tok, task, exs, cot, inputs = setup
    ref = rollout(model, tok, task, exs, [cot] * 2, max_new_tokens=16, impl='hf')
    pc = PrefixCache(model, tok)
    got = rollout(model, tok, task, exs, [cot] * 2, max_new_tokens=16, impl='static', prefix_cache=pc)
    assert got.reasoning == ref.reasoning and got.answer_ids == ref.answer_ids
    assert torch.allclose(got.gold_nll, ref.gold_nll, atol=1e-3) and torch.allclose(got.prompt_nll, ref.prompt_nll, atol=1e-3)

def test_rows_ending_early_between_checks(setup, reference):
    "Rows that end between two checks: the chains, the fed mask and the extraction are those of checking every token."
    model, tok, task, exs, cot, inputs = setup
    stop = [reference[0][3], reference[1][5]]  # make each row's 4th / 6th greedy token an end-of-sequence token
    with mock.patch.object(ev, 'eos_ids', lambda m, t: sorted(set(stop))):
        a = decode_reasoning(model, tok, inputs, 32, impl='static', sync_every=1)
        b = decode_reasoning(model, tok, inputs, 32, impl='static', sync_every=16)
    first = [min(r.index(s) for s in stop if s in r) for r in reference]  # each row ends at its first end token
    assert a.reasoning == [r[:n] for r, n in zip(reference, first)] and b.reasoning == a.reasoning
    # b ran on past the last end, to the check at 16 tokens: it added only masked columns, and nothing is pending
    assert b.mask.shape[1] > a.mask.shape[1] and b.mask.sum().item() == a.mask.sum().item()
    assert a.pending_mask.sum().item() == b.pending_mask.sum().item() == 0

def test_step_has_no_sync(setup):
    "One decoding step of the fixed-shape stepper reads nothing back from the device (the design: 0 per token)."
    model, tok, task, exs, cot, inputs = setup
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]]); mask = torch.ones_like(ids)
    st = stepper(model, 2, 8, 'static')
    with torch.no_grad():
        st(ids, mask, (mask.cumsum(-1) - 1), 1)
        mask = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], 1)
        with count_syncs() as n: st(ids[:, :1], mask, mask.sum(-1, keepdim=True) - 1, 1)
    assert n['calls'] == 0

@pytest.mark.parametrize('k', [1, 8])
def test_syncs_per_token(setup, reference, k):
    """Decoding 32 tokens instead of 16 adds at most ceil(16 / k) syncs: the end-of-chain check every `k` tokens is
    the only one per token. With k=1 (the CPU's default) the count is exactly one per extra token, so the counter sees
    the per-token check a regression would bring back."""
    model, tok, task, exs, cot, inputs = setup
    def syncs(n_tokens):
        with count_syncs() as n: dec = decode_reasoning(model, tok, inputs, n_tokens, impl='static', sync_every=k)
        assert dec.reasoning == [r[:n_tokens] for r in reference]  # the greedy tokens; no row ended early
        return n['calls']
    extra = syncs(32) - syncs(16)
    assert extra <= -(-16 // k), f'{extra} syncs for 16 more tokens with a check every {k}'
    if k == 1: assert extra == 16

def test_sync_every_checked(setup):
    model, tok, task, exs, cot, inputs = setup
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match='sync_every must be a positive integer'): decode_reasoning(model, tok, inputs, 4, sync_every=bad)
