"""Makes the reference that tests/algoperf.rs checks descent-score against: AlgoPerf's own
scoring code run on an input table of evaluation curves.

    python make_reference.py ALGOPERF_CHECKOUT

ALGOPERF_CHECKOUT is a checkout of https://github.com/mlcommons/algorithmic-efficiency at
commit 2c90454fc05d5bdf3598b0c7651e611f132a7060 (2025-09-05); only its
scoring/performance_profile.py is used, with numpy and pandas (made with numpy 2.4.6, pandas
3.1.1). The module imports AlgoPerf's workload registry (and through it jax and torch),
matplotlib, tabulate and absl; the names it needs from them are stubbed below, so no deep
learning framework is installed. Nothing of AlgoPerf's is copied into this repository.

Writes input.json (the curves, made here from a fixed seed) and expected.json (AlgoPerf's
times to target, tau grid, profiles and normalised leaderboard scores, for the external-tuning
table with 5 trials x 3 studies and the self-tuning table with 1 trial x 3 studies) beside
this script.
"""

import collections
import json
import math
import pathlib
import random
import sys
import tempfile
import types

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
# AlgoPerf's eight base workloads: its profile code selects exactly these columns.
WORKLOADS = {
    "criteo1tb": ("validation/loss", "minimize", 0.35),
    "fastmri": ("validation/ssim", "maximize", 0.72),
    "imagenet_resnet": ("validation/error_rate", "minimize", 0.30),
    "imagenet_vit": ("validation/error_rate", "minimize", 0.25),
    "librispeech_conformer": ("validation/wer", "minimize", 0.10),
    "librispeech_deepspeech": ("validation/wer", "minimize", 0.12),
    "ogbg": ("validation/mean_average_precision", "maximize", 0.28),
    "wmt": ("validation/bleu", "maximize", 30.0),
}
ENTRANTS = ["adamw", "nadamw", "heavy_ball", "lion", "slowpoke"]
STEPS = [100 * (i + 1) for i in range(20)]


def curve(rng, goal, target, speed):
    """A noisy learning curve from 1 (an error) or 0 (a score) towards a little past `target`,
    faster with `speed`; some never reach the target within the 20 evaluations."""
    start, end = (1.0, target * 0.8) if goal == "minimize" else (0.0, target * 1.15)
    values = [
        round(end + (start - end) * math.exp(-step * speed / 600.0) + rng.gauss(0.0, 0.02 * target), 4)
        for step in STEPS
    ]
    if rng.random() < 0.1:
        values[rng.randrange(len(values))] = None  # a failed evaluation: NaN
    return values


def make_input():
    rng = random.Random(2026)
    speeds = {
        "adamw": 1.0,
        "nadamw": 1.2,
        "heavy_ball": 0.7,
        "lion": 0.9,
        "slowpoke": 0.2,
    }
    rulesets = {}
    for ruleset, trials in (("external", 5), ("self_tuning", 1)):
        rows = []
        for entrant in ENTRANTS:
            for workload, (metric, goal, target) in WORKLOADS.items():
                for study in range(3):
                    for trial in range(trials):
                        speed = speeds[entrant] * rng.uniform(0.3, 1.6)
                        if (entrant, workload) == ("lion", "ogbg"):
                            speed *= 8  # so fast that the others are beyond 4x there

                        rows.append(
                            {
                                "entrant": entrant,
                                "workload": workload,
                                "study": study,
                                "trial": trial,
                                "values": curve(rng, goal, target, speed),
                            }
                        )
        rulesets[ruleset] = rows
    return {
        "workloads": [
            {"name": w, "metric": m, "goal": g, "target": t}
            for w, (m, g, t) in WORKLOADS.items()
        ],
        "steps": STEPS,
        "max_tau": 4.0,
        "points": 100,
        "rulesets": rulesets,
    }


def stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def load_algoperf(checkout):
    if not hasattr(np, "trapz"):  # numpy >= 2.4 dropped the old name AlgoPerf calls
        np.trapz = np.trapezoid
    base = list(WORKLOADS)
    stub("algoperf")
    stub("algoperf.workloads")
    stub(
        "algoperf.workloads.workloads",
        WORKLOADS={},
        BASE_WORKLOADS=base,
        get_base_workload_name=lambda w: next((b for b in base if b in w), w),
    )
    targets = {w: (m, t) for w, (m, _, t) in WORKLOADS.items()}
    stub(
        "scoring.scoring_utils",
        get_workload_metrics_and_targets=lambda w, split="validation": targets[
            w.rsplit("_", 1)[0]
        ],
    )
    absl = stub("absl")
    absl.logging = stub(
        "absl.logging", info=lambda *a, **k: None, warning=lambda *a, **k: None
    )
    matplotlib = stub(
        "matplotlib", rcParams=collections.defaultdict(list), cycler=lambda **k: None
    )
    matplotlib.pyplot = stub("matplotlib.pyplot")
    stub("tabulate", tabulate=lambda *a, **k: "")
    sys.path.insert(0, str(checkout))
    import scoring

    scoring.scoring_utils = sys.modules["scoring.scoring_utils"]
    from scoring import performance_profile

    return performance_profile


def score(pp, rows, ruleset, max_tau, points):
    submissions = {}
    for entrant in ENTRANTS:
        trials = [
            {
                "workload": r["workload"] + "_jax",
                "study": f"study_{r['study']}",
                "trial": (f"trial_{r['trial']}", "-"),
                WORKLOADS[r["workload"]][0]: np.array(
                    [math.nan if v is None else v for v in r["values"]], dtype=float
                ),
                "global_step": np.array(STEPS, dtype=float),
            }
            for r in rows
            if r["entrant"] == entrant
        ]
        submissions[entrant] = pd.DataFrame(trials)
    times = {
        name: pp.get_workloads_time_to_target(
            frame,
            name,
            time_col="global_step",
            self_tuning_ruleset=ruleset == "self_tuning",
        )
        for name, frame in submissions.items()
    }
    with tempfile.TemporaryDirectory() as out:
        profiles = pp.compute_performance_profiles(
            submissions,
            time_col="global_step",
            min_tau=1.0,
            max_tau=max_tau,
            num_points=points,
            scale="linear",
            self_tuning_ruleset=ruleset == "self_tuning",
            output_dir=out,
        )
    scores = pp.compute_leaderboard_score(profiles, normalize=True)
    finite = lambda x: None if math.isinf(x) else float(x)
    return {
        "times": {
            name: {w: finite(frame.loc[name, w]) for w in WORKLOADS}
            for name, frame in times.items()
        },
        "taus": [float(t) for t in profiles.columns],
        "profiles": {name: [float(v) for v in profiles.loc[name]] for name in ENTRANTS},
        "scores": {name: float(scores.loc[name, "score"]) for name in ENTRANTS},
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pp = load_algoperf(pathlib.Path(sys.argv[1]))
    data = make_input()
    expected = {
        ruleset: score(pp, rows, ruleset, data["max_tau"], data["points"])
        for ruleset, rows in data["rulesets"].items()
    }
    (HERE / "input.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for ruleset, result in expected.items():
        print(ruleset, {k: round(v, 4) for k, v in result["scores"].items()})


if __name__ == "__main__":
    main()
