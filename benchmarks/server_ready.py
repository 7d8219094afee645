"""`blueprints serve` from process start to ready, and its first answer against the usual ones.

A fresh index of the bundled corpus; the real server as a process, once per embedding backend
per round (ONNX, the default, and the sentence-transformers torch path), interleaved so both
see the same machine load. Ready is the first 200 of `/readyz` after the process started;
then one question, then `--questions` more, all distinct (the question cache never answers):
the first must come in within the others' 95th percentile, or readiness only deferred work.
Usage, from the repository root: python -m benchmarks.server_ready [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.support import (
    BACKENDS,
    Readiness,
    cli_env,
    distinct_questions,
    index_settings,
    ingest_bundled,
    load_average,
    measure_ready,
)

# The bundled corpus's roles, as the catalogue titles them (a fixed list: no server is up
# to ask before the one being timed starts).
BUNDLED_ROLES = ("VP of Data and AI", "Engineering Manager", "Head of DevOps", "Director of SRE")


def summary(runs: list[Readiness]) -> dict[str, float | bool]:
    """Medians over rounds (the first answer's worst case too)."""
    return {
        "ready_s": round(statistics.median(r.ready_s for r in runs), 3),
        "ready_min_s": round(min(r.ready_s for r in runs), 3),
        "first_ms": round(statistics.median(r.first_ms for r in runs), 1),
        "first_max_ms": round(max(r.first_ms for r in runs), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 1),
        "p95_ms": round(statistics.median(r.p95_ms for r in runs), 1),
        "first_within_p95": all(r.first_within_p95 for r in runs),
        "rss_mib": round(statistics.median(r.rss_mib for r in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="server starts per backend")
    parser.add_argument("--questions", type=int, default=40, help="questions after the first")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    questions = distinct_questions(BUNDLED_ROLES, args.questions + 1)
    runs: dict[str, list[Readiness]] = {backend: [] for backend in BACKENDS}
    with tempfile.TemporaryDirectory(prefix="bench-ready-") as tmp:
        root = Path(tmp)
        settings = index_settings(root)
        ingest_bundled(settings)
        for _ in range(args.rounds):
            for backend in BACKENDS:
                env = cli_env(settings, backend, BLUEPRINTS_RATE_LIMIT_PER_MINUTE=str(10**9))
                runs[backend].append(measure_ready(env, root / f"serve-{backend}.log", questions))

    figures = {"rounds": args.rounds, "load_average": load_average()}
    figures.update({backend: summary(runs[backend]) for backend in BACKENDS})
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"blueprints serve, bundled corpus: {args.rounds} starts per backend, load {figures['load_average']}"
    )
    for backend in BACKENDS:
        s = figures[backend]
        print(
            f"  {backend:>5}: ready {s['ready_s']:.2f} s (min {s['ready_min_s']:.2f}), "
            f"first answer {s['first_ms']:.0f} ms (worst {s['first_max_ms']:.0f}), then "
            f"p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms; first within p95: "
            f"{s['first_within_p95']}; RSS {s['rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
