"""Checks Arbiter's agreement figures against the `krippendorff` package.

    python scripts/check_agreement.py RATINGS.json AGREEMENT.json

RATINGS.json: [[unit, coder, value], ...]; AGREEMENT.json: the answer of
GET /api/v1/projects/{p}/agreement. Krippendorff's alpha (ordinal and
interval) must match to 1e-9. Exits non-zero saying what differs.
"""
import json
import sys

import krippendorff
import numpy as np


def main(ratings_path: str, agreement_path: str) -> None:
    ratings = json.load(open(ratings_path))
    got = json.load(open(agreement_path))
    units = sorted({u for u, _, _ in ratings})
    coders = sorted({c for _, c, _ in ratings})
    data = np.full((len(coders), len(units)), np.nan)
    for u, c, v in ratings:
        data[coders.index(c), units.index(u)] = v
    values = np.arange(-3, 4)
    for level in ("ordinal", "interval"):
        want = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=values)
        have = got["krippendorff_alpha"][level]
        assert abs(want - have) < 1e-9, f"{level}: krippendorff says {want}, Arbiter {have}"
    print(json.dumps({"units": len(units), "coders": len(coders), "alpha": got["krippendorff_alpha"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
