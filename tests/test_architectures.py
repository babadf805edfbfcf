"""The whole GReaTer path on more decoder architectures than the embedded Llama: tiny random-weight models built here
from transformers config classes (nothing is downloaded), with the embedded model's tokenizer.

For each architecture: saved to a folder → `load_model` → cached reasoning equal to a full recompute (both steppers
where they apply, and greedy tokens equal to transformers' own `generate`) → the one-hot gradient against finite
differences → one `optimize` step → `evaluate`.

- Gemma-2: attention and final-logit soft-capping (small caps, so they bite), alternating sliding/full layers, eager
  attention, a Gemma-style chat template;
- Qwen2: attention bias, one full and one sliding-window layer (sdpa);
- Phi-3: fused qkv and gate_up projections, an untied output head, a sliding window on every layer;
- Mistral: a sliding window on every layer;
- Llama with no chat template (`ChatLayout` falls back to `Q: ...\\nA:`): the lean stepper applies.

The sliding windows are 16 tokens, far shorter than a row, so they are in play everywhere. Every check prints its
largest deviation (`pytest -s` shows them).
"""
import torch, pytest
from transformers import AutoTokenizer, AutoModelForCausalLM, Gemma2Config, Qwen2Config, Phi3Config, MistralConfig, LlamaConfig

import greater_nb.steppers as steppers  # HFStepper looks `sliding_window` up there
from greater_nb.models import load_model, convert_gguf, embedded_gguf, ChatLayout
from greater_nb.data import load_task
from greater_nb.evaluate import (rollout, decode_reasoning, extract, extractor_ids, target_ids, pad_left, output_logits,
                                 LeanStepper, HFStepper, stepper, sliding_window, evaluate)
from greater_nb.reason import build_row, collate, hidden_states, logits_at
from greater_nb.loss import greater_loss
from greater_nb.onehot import candidate_embeddings, splice_embeddings
from greater_nb.gradient import one_hot_gradient
from greater_nb.propose import propose_candidates
from greater_nb.optimizer import GreaterConfig, optimize, ZS_COT

ARCHS = ['gemma2', 'qwen2', 'phi3', 'mistral', 'llama_no_template']
WINDOW = 16
N_NEW = 12  # reasoning tokens
GEMMA_TEMPLATE = ("{{ bos_token }}{% for message in messages %}<start_of_turn>"
                  "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n{{ message['content'] | trim }}"
                  "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")

def tiny_config(name:str, tok):
    c = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=1024, initializer_range=0.1, tie_word_embeddings=True,
             bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    if name == 'gemma2': return Gemma2Config(**c, head_dim=16, query_pre_attn_scalar=16, sliding_window=WINDOW,
                                             attn_logit_softcapping=1.0, final_logit_softcapping=2.0)
    if name == 'qwen2':  # the sliding layer first: on the last layer a 16-token window at the answer sees only the extractor
        return Qwen2Config(**c, attention_bias=True, use_sliding_window=True, sliding_window=WINDOW,
                           layer_types=['sliding_attention', 'full_attention'])
    if name == 'phi3': return Phi3Config(**{**c, 'tie_word_embeddings': False}, sliding_window=WINDOW)
    if name == 'mistral': return MistralConfig(**c, head_dim=16, sliding_window=WINDOW)
    if name == 'llama_no_template': return LlamaConfig(**c, head_dim=16)
    raise KeyError(name)

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    "One intra-op thread: these models are tiny, and on a busy 2-core machine more threads only contend (about 5x slower)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture(scope='session')
def task(): return load_task('web_of_lies')

@pytest.fixture(scope='session')
def src_tok():
    "The embedded model's tokenizer, from its converted folder (no model weights are loaded)."
    return AutoTokenizer.from_pretrained(convert_gguf(embedded_gguf()))

@pytest.fixture(scope='session', params=ARCHS)
def arch(request, tmp_path_factory, src_tok):
    "(name, folder, model, tok): a tiny random model saved with its tokenizer, then loaded back with `load_model`."
    name = request.param
    tok = AutoTokenizer.from_pretrained(src_tok.name_or_path)  # a copy: templates are changed per architecture
    if name == 'gemma2': tok.chat_template = GEMMA_TEMPLATE
    if name == 'llama_no_template': tok.chat_template = None
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(name, tok), dtype=torch.float32)
    folder = tmp_path_factory.mktemp(name)
    model.save_pretrained(folder); tok.save_pretrained(folder)
    model, tok = load_model(str(folder), device='cpu', dtype='float32')
    return name, folder, model, tok

def prompts_of(tok) -> list[list[int]]:
    "Three different prompts (rows that differ right before the reasoning, so their chains differ)."
    z = tok(ZS_COT, add_special_tokens=False)['input_ids']
    return [z[0:6], z[4:8], z[8:15]]

def recompute(model, tok, task, exs, prompts, reasonings):
    "Loss parts and answer logits from one uncached, right-padded forward pass over `x ⊙ p ⊙ r ⊙ p_extract ⊙ y`."
    b = collate([build_row(tok, task, ex, p, r) for ex, p, r in zip(exs, prompts, reasonings)], tok.pad_token_id)
    with torch.no_grad():
        h = hidden_states(model, b)
        return greater_loss(model, b, h), logits_at(model, h, b.target_start, 1)[:, 0]

def early_stop_token(reasonings:list[list[int]]) -> int|None:
    "A token that, declared an end token, ends one chain part-way (after >= 1 token) and leaves another one whole."
    return next((x for row in reasonings for j, x in enumerate(row)
                 if j >= 1 and x not in row[:j] and any(x not in o for o in reasonings)), None)

def check_gemma2_soft_capping(model, tok, task):
    "Both caps are set, both change the numbers, and the output head we use is the model's own (capped) head."
    cfg = model.config
    assert cfg.attn_logit_softcapping == 1.0 and cfg.final_logit_softcapping == 2.0 and cfg._attn_implementation == 'eager'
    ids = torch.tensor([ChatLayout(tok).encode(task.train[0].question, prompts_of(tok)[0])[0]])
    with torch.no_grad():
        h = model.model(input_ids=ids).last_hidden_state
        capped, raw = output_logits(model, h), model.lm_head(h)
        assert (capped - raw).abs().max() > 0.5 and capped.abs().max() <= 2.0
        assert (capped - model(input_ids=ids).logits).abs().max() < 1e-5
        attn = [l.self_attn for l in model.model.layers]
        assert all(a.attn_logit_softcapping == 1.0 for a in attn)
        for a in attn: a.attn_logit_softcapping = None
        try: h_uncapped = model.model(input_ids=ids).last_hidden_state
        finally:
            for a in attn: a.attn_logit_softcapping = 1.0
    assert (h - h_uncapped).abs().max() > 1e-2, 'attention soft-capping does not change the hidden states'

def test_loaded_architecture(arch, task):
    name, folder, model, tok = arch
    cfg = model.config
    assert (folder/'config.json').exists() and (folder/'model.safetensors').exists()
    assert cfg.model_type == {'llama_no_template': 'llama'}.get(name, name)
    assert model.dtype == torch.float32 and model.device.type == 'cpu' and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert len(tok) == cfg.vocab_size == 49152 and tok.padding_side == 'left' and tok.pad_token_id is not None
    layout = ChatLayout(tok)
    pre, suf = layout.texts('Is it?')
    if name == 'llama_no_template':
        assert not tok.chat_template and not (folder/'chat_template.jinja').exists() and not layout.has_template
        assert pre == 'Q: Is it?\n\n' and suf == '\nA:'
    else: assert layout.has_template
    if name == 'gemma2':
        assert '<start_of_turn>user\nIs it?' in pre and suf.endswith('<start_of_turn>model\n')
        check_gemma2_soft_capping(model, tok, task)
    assert LeanStepper.supports(model) == (name == 'llama_no_template')
    if not LeanStepper.supports(model):
        with pytest.raises(ValueError, match='lean stepper does not support'): stepper(model, 1, 8, impl='lean')
    assert sliding_window(model) == (None if name == 'llama_no_template' else WINDOW)
    if name == 'qwen2': assert cfg.attention_bias and model.model.layers[0].self_attn.q_proj.bias is not None
    if name == 'phi3': assert hasattr(model.model.layers[0].self_attn, 'qkv_proj') and hasattr(model.model.layers[0].mlp, 'gate_up_proj')

def test_cached_reasoning_equals_recompute(arch, task, monkeypatch):
    name, _, model, tok = arch
    exs, ps = task.train[:3], prompts_of(tok)
    # make one chain end part-way while another runs to N_NEW: the ended row leaves masked columns in the cache
    base = rollout(model, tok, task, exs, ps, max_new_tokens=N_NEW, impl='hf')
    stop = early_stop_token(base.reasoning)
    assert stop is not None, base.reasoning
    monkeypatch.setattr(model.generation_config, 'eos_token_id', [tok.eos_token_id, stop])
    impls = ['hf'] + (['lean'] if LeanStepper.supports(model) else [])
    results = {}
    for impl in impls:
        ro = rollout(model, tok, task, exs, ps, max_new_tokens=N_NEW, impl=impl)
        lens = [len(r) for r in ro.reasoning]
        assert 1 <= min(lens) < N_NEW == max(lens), lens
        parts, first = recompute(model, tok, task, exs, ps, ro.reasoning)
        d_gold = (ro.gold_nll - parts.ce).abs().max().item()
        d_prompt = (ro.prompt_nll - parts.prompt_nll).abs().max().item()
        # the answer logits straight off the cache
        inputs = [ChatLayout(tok).encode(ex.question, p)[0] for ex, p in zip(exs, ps)]
        dec = decode_reasoning(model, tok, inputs, N_NEW, impl=impl)
        assert isinstance(dec.step, HFStepper if impl == 'hf' else LeanStepper) and dec.reasoning == ro.reasoning
        if impl == 'hf': assert not any(dec.step.cache.is_sliding)  # full cache layers: none drops columns by count
        cached = dec.step.cache.get_seq_length() if impl == 'hf' else dec.step.n
        assert cached == dec.mask.shape[1] == max(map(len, inputs)) + N_NEW - 1  # every fed column is in the cache
        ext = extract(model, tok, dec, extractor_ids(tok, task), [target_ids(tok, task, ex) for ex in exs])
        d_logits = (ext.answer_logits - first).abs().max().item()
        # drafts that are right for 2 tokens then wrong: the rejected columns stay in the cache, masked
        drafts = [r[:2] + [stop] * 6 for r in ro.reasoning]
        dr = rollout(model, tok, task, exs, ps, max_new_tokens=N_NEW, impl=impl, drafts=drafts)
        assert dr.reasoning == ro.reasoning
        d_draft = (dr.gold_nll - parts.ce).abs().max().item()
        print(f'\n{name}/{impl}: reasoning lengths {lens}; max |cached - recompute|: gold NLL {d_gold:.1e}, '
              f'prompt NLL {d_prompt:.1e}, answer logits {d_logits:.1e}, gold NLL with drafts {d_draft:.1e}')
        assert max(d_gold, d_prompt, d_logits, d_draft) < 1e-4
        results[impl] = ro
    if 'lean' in results: assert results['lean'].reasoning == results['hf'].reasoning
    # greedy tokens equal transformers' own generate (its own cache and masks), cut at the first end token
    ids, mask = pad_left([ChatLayout(tok).encode(ex.question, p)[0] for ex, p in zip(exs, ps)], tok.pad_token_id)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=N_NEW, do_sample=False,
                         eos_token_id=[tok.eos_token_id, stop], pad_token_id=tok.pad_token_id)[:, ids.shape[1]:].tolist()
    assert [r[:next((j for j, x in enumerate(r) if x in (tok.eos_token_id, stop)), len(r))] for r in out] == results['hf'].reasoning
    if sliding_window(model):
        # the control: with transformers' own masks the window counts cache columns, so the masked columns of the row
        # that ended early push real tokens out of its window, and the cached loss no longer equals the recompute
        monkeypatch.setattr(steppers, "sliding_window", lambda m: None)
        bad = rollout(model, tok, task, exs, ps, max_new_tokens=N_NEW, impl='hf')
        assert bad.reasoning == results['hf'].reasoning
        d_bad = (bad.gold_nll - recompute(model, tok, task, exs, ps, bad.reasoning)[0].ce).abs().max().item()
        print(f'{name}: column-counted window (the fixed bug): max |cached - recompute| gold NLL {d_bad:.1e}')
        assert d_bad > 1e-3

def test_one_hot_gradient(arch, task):
    """The gradient is checked against the loss itself, not against another autograd computation.

    ε enters the model only through `ε @ E` (the spliced embedding), so L restricted to a line ε0 + t·d is a smooth
    function of t, and dL/dt at 0 must equal ∇L·d. We take d random and d = e_best - e_current (the move the gradient
    ranks first), and compare ∇L·d from `one_hot_gradient` with a Richardson-extrapolated central difference of the
    loss (steps h = 0.02 and 0.01, error O(h^4)) on a float64 copy of the model. transformers still computes norms and
    softmaxes in float32 inside a float64 model, so L (about 3e4 here, mostly λ·perplexity of a random model) carries
    rounding noise of about 1e-3, and the difference quotient about 0.1: we measure the error relative to ‖∇L‖·‖d‖
    (the largest ∇L·d could be), which this leaves near 1e-5, and allow 1e-3. What this guards against (the wrong
    column spliced, a detached or mis-scaled term, a soft-cap missing on one side, a gradient summed over the wrong
    rows) moves ∇L·d by a sizeable fraction of ‖∇L‖·‖d‖.
    Separately, at ε = e_c the spliced input is exactly token c: the answer CE must equal that of the prompt with c
    substituted, fed as token ids. This failed on Gemma-2 (its embedding module scales the table rows by √d, which
    `candidate_embeddings` used to skip); the finite differences cannot see that, since both sides splice the same E.
    """
    name, folder, model, tok = arch
    exs, p, i = task.train[:2], prompts_of(tok)[0], 2
    reasonings = rollout(model, tok, task, exs, [p] * 2, max_new_tokens=8).reasoning
    cands = propose_candidates(model, tok, [e.question for e in task.train[:6]], p, i, k=6, q=2)
    assert p[i] in cands and len(cands) >= 4
    m64, _ = load_model(str(folder), device='cpu', dtype='float64')
    assert m64.dtype == torch.float64
    g = one_hot_gradient(m64, tok, task, exs, p, reasonings, i, cands, lam=0.2)
    rows = collate([build_row(tok, task, ex, p, r) for ex, r in zip(exs, reasonings)], tok.pad_token_id)
    E = candidate_embeddings(m64, cands)

    def loss(eps:torch.Tensor) -> float:
        with torch.no_grad():
            emb = splice_embeddings(m64, rows.ids, rows.prompt_start + i, eps, E)
            return greater_loss(m64, rows, hidden_states(m64, rows, emb), lam=0.2).loss.sum().item()

    e0 = torch.zeros(len(cands), dtype=torch.float64); e0[cands.index(p[i])] = 1
    assert g.grad.abs().min() > 0 and torch.isfinite(g.grad).all()
    assert abs(loss(e0) - g.losses.double().sum().item()) < 1e-3 * abs(loss(e0))
    best = min((j for j in range(len(cands)) if cands[j] != p[i]), key=lambda j: g.grad[j])
    d_swap = -e0.clone(); d_swap[best] += 1
    d_rand = torch.randn(len(cands), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h, rels, errs = 2e-2, [], []
    for d in (d_rand, d_swap):
        D = lambda h: (loss(e0 + h * d) - loss(e0 - h * d)) / (2 * h)
        fd, an = (4 * D(h / 2) - D(h)) / 3, (g.grad.double() @ d).item()
        scale = g.grad.double().norm().item() * d.norm().item()
        rels.append(abs(fd - an) / abs(an)); errs.append(abs(fd - an) / scale)
    # the float32 model's gradient (what the optimizer uses) agrees with the float64 one
    g32 = one_hot_gradient(model, tok, task, exs, p, reasonings, i, cands, lam=0.2)
    d32 = ((g32.grad - g.grad).abs().max() / g.grad.abs().max()).item()
    # the exact check: ε = e_c is token c (float32 model)
    E32 = candidate_embeddings(model, cands)
    c = cands[best]
    swapped = collate([build_row(tok, task, ex, p[:i] + [c] + p[i+1:], r) for ex, r in zip(exs, reasonings)], tok.pad_token_id)
    ec = torch.zeros(len(cands)); ec[best] = 1
    with torch.no_grad():
        via_eps = greater_loss(model, rows, hidden_states(model, rows, splice_embeddings(model, rows.ids, rows.prompt_start + i, ec, E32)))
        via_ids = greater_loss(model, swapped, hidden_states(model, swapped))
    d_swap_ce = (via_eps.ce - via_ids.ce).abs().max().item()
    print(f'\n{name}: |∇L·d - finite difference| / (‖∇L‖‖d‖) {errs[0]:.1e} (random d), {errs[1]:.1e} (d = e_best - e_cur); '
          f'relative to |∇L·d| {rels[0]:.1e}, {rels[1]:.1e}; float32 vs float64 gradient {d32:.1e} (relative to max |∇|); '
          f'CE at ε = e_c vs token c {d_swap_ce:.1e}')
    assert max(errs) < 1e-3 and d32 < 1e-3 and d_swap_ce < 1e-4

def test_optimize_step_and_evaluate(arch, task):
    name, _, model, tok = arch
    cfg = GreaterConfig(steps=1, n_train=2, max_new_tokens=6, answer_tokens=3, k=4, q=2, mu=2, batch_size=4, grad_batch_size=2)
    res = optimize(model, tok, task, cfg, progress=False)
    assert res.steps == 1 and len(res.history) == 1
    rec = res.history[0]
    init = tok(ZS_COT, add_special_tokens=False)['input_ids']
    assert rec['step'] == 1 and rec['position'] == 0 and rec['prompt_before_ids'] == init and init[0] in rec['candidates']
    assert len(rec['neg_grad']) == len(rec['candidates']) and len(rec['selected']) == 2
    assert all(torch.isfinite(torch.tensor(rec['neg_grad']))) and all(x == x for x in rec['selected_loss'])
    assert rec['chosen'] in rec['selected'] + [init[0]] and rec['prompt_ids'][1:] == init[1:]
    assert res.best_objective <= res.init_objective
    r = evaluate(model, tok, task, res.best_ids, split='dev', n=3, batch_size=3, max_new_tokens=6, answer_tokens=3, progress=False)
    assert r.n == 3 and 0 <= r.accuracy <= 1 and r.new_tokens > 0
    assert [x['gold'] for x in r.records] == [e.answer for e in task.dev[:3]]
    assert all(0 < x['gold_loss'] < float('inf') for x in r.records)

pytestmark = pytest.mark.xdist_group('arch')  # one pytest-xdist worker runs this file (its fixtures are built once per session)
