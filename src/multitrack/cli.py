"""The `multitrack` command: one verb per pipeline stage.

Each verb lives in `multitrack.commands.<verb>` with `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their verb runs, so `inspect`
does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from multitrack import __version__
from multitrack.errors import MultitrackError

VERBS = {
    "inspect": "summarise one xmeml timeline",
    "synth": "write a corpus of realistic synthetic timelines",
    "ingest": "turn xmeml files or folders into the frame table (Parquet)",
    "prepare": "split, normalise and window a frame table for training",
    "train": "train the multi-track Transformer",
    "tune": "search hyperparameters with Optuna: a resumable study of training runs",
    "export": "write a model bundle from a training checkpoint, or a bundle as ONNX (--onnx)",
    "evaluate": "score a model bundle against baselines on prepared data",
    "generate": "continue a timeline with a model bundle and write xmeml",
    "attention": "draw what the model attends to when it predicts a frame of a timeline",
    "cut": "cut a synced multicam stack into an edit (the rule-based switcher: --rules)",
    "evaluate-cut": "judge cutting on a synth corpus's podcast sessions: rules, semi-Markov and the oracle",
    "demo": "run the whole pipeline on a synthetic corpus",
    "serve": "a local web app over a work folder: timelines, train, models, continue",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multitrack", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"multitrack {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb, help_text in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        p.set_defaults(verb_module=_module_name(verb))
        _module(verb).add_arguments(p)
    return parser


def _module_name(verb: str) -> str:
    """multitrack.commands.<verb>, a dash in the verb an underscore in the module."""
    return f"multitrack.commands.{verb.replace('-', '_')}"


def _module(verb: str):
    return importlib.import_module(_module_name(verb))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    try:
        return int(importlib.import_module(args.verb_module).run(args) or 0)
    except MultitrackError as exc:
        print(f"multitrack {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"multitrack {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
