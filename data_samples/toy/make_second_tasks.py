"""Generate the candidates for a second task of our own: `two_step_problems.json` and `compare_problems.json`.

The embedded 135M model is at chance on every BBH task we surveyed (nbs/ablations/06_baselines), so a second task where
prompts can matter has to be generated, like `word_problems`. The candidates, in the order the rule in
results/second_task/RULE.md tries them (written before any of their rows was evaluated):

1. two_step_problems: '<name> has a <things>. <name> <verb> b <things>. Then <name> <verb> c <things>. How many ...?'
   (two one-step operations in a row; a number answer);
2. compare_problems: '<A> has a <things>. <B> has b <things>. <B> <verb> c <things>. Does <B> have more <things> than
   <A> now?' (one operation, then a comparison; Yes or No, balanced).

Usage: python data_samples/toy/make_second_tasks.py   (deterministic, seed 2413; rewrites both files)
Each file has BBH's layout and 650 rows: rows 0-49 train, 50-149 dev, 150-649 test (500 held-out rows, so a paired
difference of about 6 points is detectable; see nbs/10_measure).
"""
import json, random
from pathlib import Path

SEED, N = 2413, 650
NAMES = ['Sam', 'Mia', 'Leo', 'Ava', 'Ben', 'Zoe', 'Max', 'Ivy', 'Tom', 'Nia', 'Eli', 'Ada']
THINGS = ['apples', 'pencils', 'marbles', 'cookies', 'stickers', 'books', 'coins', 'shells', 'cards', 'balloons']
MORE = ['gets {b} more {t}', 'buys {b} more {t}', 'finds {b} more {t}']
LESS = ['gives {b} {t} to a friend', 'loses {b} {t}', 'sells {b} {t}']

def operation(rng:random.Random, have:int, t:str) -> tuple[str, int]:
    "A verb phrase that adds to or takes from `have` (never below 1), and the new count."
    if have < 3 or rng.random() < 0.5:
        b = rng.randint(2, 9); return rng.choice(MORE).format(b=b, t=t), have + b
    b = rng.randint(1, have - 1); return rng.choice(LESS).format(b=b, t=t), have - b

def two_step(rng:random.Random) -> dict:
    name, t, a = rng.choice(NAMES), rng.choice(THINGS), rng.randint(3, 12)
    v1, x = operation(rng, a, t)
    v2, y = operation(rng, x, t)
    return dict(input=f"{name} has {a} {t}. {name} {v1}. Then {name} {v2}. How many {t} does {name} have now?", target=str(y))

def compare(rng:random.Random, want_yes:bool) -> dict:
    while True:
        p, q = rng.sample(NAMES, 2)
        t, a, b = rng.choice(THINGS), rng.randint(3, 12), rng.randint(3, 12)
        v, c = operation(rng, b, t)
        if c != a and (c > a) == want_yes: break
    return dict(input=f"{p} has {a} {t}. {q} has {b} {t}. {q} {v}. Does {q} have more {t} than {p} now?",
                target='Yes' if want_yes else 'No')

def main():
    rng = random.Random(SEED)
    here = Path(__file__).parent
    steps = [two_step(rng) for _ in range(N)]
    yes = [i < N // 2 for i in range(N)]; rng.shuffle(yes)   # balanced Yes/No, in a random order
    tasks = {'two_step_problems': (steps, 'Two-step addition and subtraction word problems'),
             'compare_problems': ([compare(rng, y) for y in yes], 'One operation, then a yes/no comparison')}
    for name, (exs, desc) in tasks.items():
        out = dict(description=f"{desc} (greater_nb's own task)", generator='make_second_tasks.py', seed=SEED, examples=exs)
        (here/f'{name}.json').write_text(json.dumps(out, indent=1) + '\n', encoding='utf-8')

if __name__ == '__main__': main()
