"""Generate `word_problems.json`: one-step addition and subtraction word problems with small numbers.

A task of our own for the embedded 135M model. The BBH tasks are too hard for it (held-out accuracy near or below
chance with every prompt we tried), so an optimizer cannot show an effect there. On these problems the model is
above chance and its accuracy depends strongly on the instruction: how long it reasons before answering decides
whether the answer fits into a short reasoning budget.

Usage: python data_samples/toy/make_word_problems.py   (rewrites word_problems.json; deterministic, seed 2412)
The file has BBH's layout ({"examples": [{"input", "target"}]}) and 250 rows, split like BBH: rows 0-49 train,
50-149 dev, 150-249 test.
"""
import json, random
from pathlib import Path

SEED, N = 2412, 250
NAMES = ['Sam', 'Mia', 'Leo', 'Ava', 'Ben', 'Zoe', 'Max', 'Ivy', 'Tom', 'Nia', 'Eli', 'Ada']
THINGS = ['apples', 'pencils', 'marbles', 'cookies', 'stickers', 'books', 'coins', 'shells', 'cards', 'balloons']
MORE = ['gets {b} more {t}', 'buys {b} more {t}', 'finds {b} more {t}']
LESS = ['gives {b} {t} to a friend', 'loses {b} {t}', 'sells {b} {t}']

def problem(rng:random.Random) -> dict:
    "One problem: '<name> has a <things>. <name> <verb> b <things>. How many <things> does <name> have now?'"
    name, t = rng.choice(NAMES), rng.choice(THINGS)
    if rng.random() < 0.5:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        verb, ans = rng.choice(MORE), a + b
    else:
        a = rng.randint(5, 15); b = rng.randint(1, a - 1)
        verb, ans = rng.choice(LESS), a - b
    q = f"{name} has {a} {t}. {name} {verb.format(b=b, t=t)}. How many {t} does {name} have now?"
    return dict(input=q, target=str(ans))

def main():
    rng = random.Random(SEED)
    exs = [problem(rng) for _ in range(N)]
    out = dict(description="One-step addition and subtraction word problems with small numbers (greater_nb's own task)", generator='make_word_problems.py', seed=SEED, examples=exs)
    Path(__file__).with_name('word_problems.json').write_text(json.dumps(out, indent=1) + '\n', encoding='utf-8')

if __name__ == '__main__': main()
