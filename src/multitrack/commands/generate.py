"""`multitrack generate BUNDLE --prompt TIMELINE.xml [--prompt-seconds S] --seconds N
[--temperature T] [--seed S] [--runtime torch|onnx|onnx-int8] -o OUT.xml`, or `--prompt DIR
-o OUT_DIR` for a folder.

Continues the prompt's first timeline with the model and writes Premiere-style xmeml that
reuses the prompt's media; a folder is processed file by file with a progress bar, and a
file that fails is reported without stopping the others. With `--runtime onnx` BUNDLE is a
folder `multitrack export --onnx` wrote and the rollout runs in ONNX Runtime (the `onnx` extra).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multitrack.commands.argtypes import add_runtime_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="a model bundle folder (RUN_DIR/bundle)")
    parser.add_argument(
        "--prompt", required=True, metavar="TIMELINE.xml|DIR", help="the timeline to continue, or a folder of them"
    )
    parser.add_argument(
        "--prompt-seconds", type=float, default=None, help="use only the prompt's first S seconds (default: all of it)"
    )
    parser.add_argument("--seconds", type=float, required=True, help="how many seconds to generate after the prompt")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 is greedy (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    add_runtime_argument(parser)
    parser.add_argument(
        "-o", "--out", required=True, metavar="OUT.xml|OUT_DIR", help="output file, or folder for a prompt folder"
    )


def run(args: argparse.Namespace) -> int:
    from multitrack.errors import MultitrackError
    from multitrack.generate.generate import generate, generate_folder

    if args.seconds <= 0 or args.temperature < 0 or (args.prompt_seconds is not None and args.prompt_seconds <= 0):
        raise MultitrackError("--seconds and --prompt-seconds must be > 0 and --temperature >= 0")
    options = {
        "prompt_seconds": args.prompt_seconds,
        "temperature": args.temperature,
        "seed": args.seed,
        "runtime": args.runtime,
    }
    prompt = Path(args.prompt)
    if prompt.is_dir():
        results, errors = generate_folder(args.bundle, prompt, args.seconds, args.out, progress=True, **options)
        for message in errors:
            print(f"multitrack generate: error: {message}", file=sys.stderr)
        print(f"{len(results)} timeline(s) written to {args.out}, {len(errors)} failed")
        return 1 if errors else 0
    if not prompt.is_file():
        raise MultitrackError(f"{prompt}: no such file or folder")
    result = generate(args.bundle, prompt, args.seconds, args.out, **options)
    for message in result.warnings:
        print(f"multitrack generate: warning: {message}", file=sys.stderr)
    print(
        f"{result.out_path}: {result.prompt_frames} prompt + {result.generated_frames} generated frames, "
        f"{result.clips} video clips, {result.keyframes} keyframes"
    )
    return 0
