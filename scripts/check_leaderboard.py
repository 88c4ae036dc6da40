"""Checks Arbiter's Bradley-Terry ratings against a reference fit.

    python scripts/check_leaderboard.py BATTLES.jsonl LEADERBOARD.json

BATTLES.jsonl: the project's `arena` export (model_a, model_b, winner);
LEADERBOARD.json: the answer of GET /api/v1/projects/{p}/leaderboard.
The reference is the fit FastChat's leaderboard makes: a logistic
regression without intercept or penalty on the battle matrix, a row per
ordered model pair with +ln 10 / -ln 10 for the two models, weighted by
wins (a tie half a win each way), rating = 400 * coefficient + 1000; here
shifted to mean 1000 as Arbiter reports it. Ratings must agree to 1e-6.
"""
import json
import math
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression


def main(battles_path: str, board_path: str) -> None:
    battles = [json.loads(line) for line in open(battles_path) if line.strip()]
    board = json.load(open(board_path))
    models = sorted({b["model_a"] for b in battles} | {b["model_b"] for b in battles})
    ix = {m: i for i, m in enumerate(models)}
    n = len(models)
    wins = np.zeros((n, n))  # wins[i, j]: i beat j, ties counted half each way
    for b in battles:
        a, c = ix[b["model_a"]], ix[b["model_b"]]
        if b["winner"] == "model_a":
            wins[a, c] += 1.0
        elif b["winner"] == "model_b":
            wins[c, a] += 1.0
        else:
            wins[a, c] += 0.5
            wins[c, a] += 0.5
    rows, ys, weights = [], [], []
    for i in range(n):
        for j in range(n):
            if i == j or wins[i, j] + wins[j, i] == 0:
                continue
            x = np.zeros(n)
            x[i], x[j] = math.log(10), -math.log(10)
            rows += [x, x]
            ys += [1.0, 0.0]
            weights += [wins[i, j], wins[j, i]]
    # newton-cg: the same model as FastChat's lbfgs, solved to the precision compared.
    lr = LogisticRegression(fit_intercept=False, penalty=None, solver="newton-cg", tol=1e-14, max_iter=10_000)
    lr.fit(np.array(rows), np.array(ys), sample_weight=np.array(weights))
    ratings = 400.0 * lr.coef_[0]
    ratings = ratings - ratings.mean() + 1000.0
    have = {m["model"]: m["rating"] for m in board["models"]}
    assert set(have) == set(models), f"models: reference {models}, Arbiter {sorted(have)}"
    worst = max(abs(have[m] - ratings[ix[m]]) for m in models)
    assert worst < 1e-6, f"ratings differ by {worst}: reference {dict(zip(models, ratings))}, Arbiter {have}"
    assert board["battles"] == len(battles), f"battles: {len(battles)} exported, {board['battles']} counted"
    print(json.dumps({"models": n, "battles": len(battles), "largest_difference": worst}))


if __name__ == "__main__":
    main(*sys.argv[1:])
