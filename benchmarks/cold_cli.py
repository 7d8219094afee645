"""`blueprints ask` as a user runs it: a new process each time, from start to answer.

The real CLI on a fresh index of the bundled corpus, `--runs` times per embedding backend
(ONNX, the default, and the sentence-transformers torch path), interleaved so both see the
same machine load; min and median wall-clock seconds, and the interpreter's own start-up
(`python -c pass`) for scale. Usage, from the repository root:
python -m benchmarks.cold_cli [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.support import BACKENDS, BIN, cli_env, index_settings, ingest_bundled, load_average

QUESTION = "What KPIs does the VP of Data and AI own?"


def run_once(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting the process to its exit; fails on a non-zero exit."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "coverage: answered" not in done.stdout + done.stderr:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per backend")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cold-cli-") as tmp:
        settings = index_settings(Path(tmp))
        ingest_bundled(settings)
        command = [str(BIN / "blueprints"), "ask", QUESTION]
        envs = {backend: cli_env(settings, backend) for backend in BACKENDS}
        for backend in BACKENDS:  # warm the page cache, not counted
            run_once(command, envs[backend])
        seconds: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
        interpreter: list[float] = []
        for _ in range(args.runs):
            for backend in BACKENDS:
                seconds[backend].append(run_once(command, envs[backend]))
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            interpreter.append(time.perf_counter() - started)

    figures = {
        "runs": args.runs,
        "question": QUESTION,
        "load_average": load_average(),
        "interpreter_s": round(min(interpreter), 3),
        **{
            f"{backend}_{stat}_s": round(fn(seconds[backend]), 3)
            for backend in BACKENDS
            for stat, fn in (("min", min), ("median", statistics.median))
        },
    }
    figures["torch_over_onnx_median"] = round(
        figures["torch_median_s"] / figures["onnx_median_s"], 2
    )
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"blueprints ask {QUESTION!r}: {args.runs} runs per backend, load {figures['load_average']}"
    )
    for backend in BACKENDS:
        print(
            f"  {backend:>5}: min {figures[f'{backend}_min_s']:.2f} s, "
            f"median {figures[f'{backend}_median_s']:.2f} s"
        )
    print(f"  python -c pass: {figures['interpreter_s']:.3f} s (min)")
    print(f"  torch / onnx (median): {figures['torch_over_onnx_median']:.2f}")


if __name__ == "__main__":
    main()
