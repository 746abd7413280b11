"""`multitrack cut STACK.xml -o EDIT.xml --rules`: a synced multicam stack cut into an edit.

The rules (sample/switcher.py) take their settings from, in order: `--rules-from DIR` (fitted on
the editor's finished edits under DIR, evaluate/rules.py), `--bundle BUNDLE` (its decision rate,
and the rules it carries, if any), the editor's own first `--prompt-seconds` (fitted on them), or
the documented defaults (README). A folder of stacks is cut file by file with a progress bar;
one bad stack is reported and the rest goes on.

Exit status: 0 every stack cut, 1 some failed (the rest written), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from multitrack.commands.argtypes import positive_int

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "exit status: 0 every stack cut, 1 some failed (the rest written), 2 usage error"
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="stack xmeml files, or folders of them")
    parser.add_argument(
        "-o", "--output", required=True, metavar="EDIT", help="the edit to write (a folder for several stacks)"
    )
    parser.add_argument("--rules", action="store_true", help="cut with the rule-based switcher (the model: next issue)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--rules-from", metavar="DIR", default=None, help="fit the rules on this editor's finished edits under DIR"
    )
    source.add_argument(
        "--bundle", metavar="BUNDLE", default=None, help="a model bundle: its decision rate and the rules it carries"
    )
    parser.add_argument(
        "--rules-objective",
        choices=("shown_agreement", "cut_f1"),
        default="shown_agreement",
        help="which of the two fits cuts (both are printed; default shown_agreement)",
    )
    parser.add_argument(
        "--pair",
        nargs="+",
        default=[],
        metavar="CAM=MIC",
        help="which mic each camera shows: V2=A1, cam_a.mov=mic_1.wav, V4=A1+A2 (a two-shot); cameras not named: none",
    )
    parser.add_argument(
        "--prompt-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="the stack's first S seconds are the editor's own cut: kept as they are, read for the pairing and "
        "(without --rules-from) fitted on",
    )
    parser.add_argument(
        "--fps", type=float, default=None, metavar="F", help="decision rate (default 10, or the bundle's)"
    )
    parser.add_argument("--keep-unused", action="store_true", help="keep the runs not shown as disabled clips")
    parser.add_argument(
        "--require-audio", action="store_true", help="refuse a stack none of whose mics can be heard (else: cut deaf)"
    )
    parser.add_argument("--cache-dir", metavar="DIR", default=None, help="where analysed audio is cached (as ingest)")
    parser.add_argument(
        "--media-root", action="append", default=[], metavar="OLD=NEW", help="as ingest --media-root (repeatable)"
    )
    parser.add_argument(
        "--media-dir", action="append", default=[], metavar="DIR", help="as ingest --media-dir (repeatable)"
    )
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="hearing processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def stack_inputs(inputs: list[str]) -> list[tuple[Path, Path | None]]:
    """(stack file, the folder it was found in, or None for a file given directly)."""
    found: list[tuple[Path, Path | None]] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found += [(p, path) for p in sorted(path.rglob("*.xml"))]
        else:
            found.append((path, None))
    return found


def edit_path(output: Path, stack: Path, root: Path | None, several: bool) -> Path:
    """Where a stack's edit goes: OUTPUT itself for one stack, else OUTPUT/<relative path> cut.xml."""
    if not several:
        return output
    relative = stack.relative_to(root) if root is not None else Path(stack.name)
    return output / relative.with_name(f"{relative.stem} cut.xml")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from multitrack.cut.cut import CutOptions, cut_stack
    from multitrack.cut.sessions import edit_sessions
    from multitrack.errors import MultitrackError
    from multitrack.evaluate.rules import fit_rules
    from multitrack.features.hearing import HopCache
    from multitrack.features.media import MediaFinder
    from multitrack.sample.pairing import most_common_convention
    from multitrack.sample.switcher import DECISION_FPS, DEFAULT_RULES, RuleSettings

    if not args.rules:
        print("multitrack cut: error: only --rules cuts for now (the model joins in the next issue)", file=sys.stderr)
        return EXIT_USAGE
    if args.prompt_seconds < 0:
        print("multitrack cut: error: --prompt-seconds must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    inputs = stack_inputs(args.stacks)
    missing = [str(p) for p, _ in inputs if not p.exists()]
    if missing:
        print(f"multitrack cut: error: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    finder = MediaFinder.of(args.media_root, args.media_dir)
    cache = HopCache(Path(args.cache_dir) if args.cache_dir else None)
    fps = args.fps or DECISION_FPS
    rules, rules_source, convention = DEFAULT_RULES, "default settings", None
    if args.bundle:
        fps, bundle_rules = _bundle_rules(Path(args.bundle), args.fps)
        if bundle_rules is not None:
            rules, rules_source = bundle_rules, f"the rules in {args.bundle}"
    if args.rules_from:
        found = edit_sessions(Path(args.rules_from), fps, finder, cache, args.jobs)
        for line in found.skipped:
            print(f"skipped for the fit: {line}", file=sys.stderr)
        if not found.sessions:
            print(f"multitrack cut: error: no edit under {args.rules_from} to fit the rules on", file=sys.stderr)
            return EXIT_SOME_FAILED
        fit = fit_rules(found.sessions)
        print(_fit_lines(fit, f"{len(found.sessions)} edit(s) under {args.rules_from}"))
        rules = fit.best(args.rules_objective).settings
        rules_source = f"fitted for {args.rules_objective} on {len(found.sessions)} edit(s) under {args.rules_from}"
        first = found.sessions[0].pairing
        convention = most_common_convention([s.pairing for s in found.sessions], first.n_cameras, first.n_mics)

    def fit_prompt(sessions: list) -> RuleSettings:
        fit = fit_rules(sessions)
        print(_fit_lines(fit, "the prompt"))
        return fit.best(args.rules_objective).settings

    options = CutOptions(
        rules=rules,
        rules_source=rules_source,
        pairs=args.pair,
        prompt_seconds=args.prompt_seconds,
        fps=fps,
        convention=convention,
        finder=finder,
        cache=cache,
        jobs=args.jobs,
        keep_unused=args.keep_unused,
        require_audio=args.require_audio,
        fit_prompt=fit_prompt if args.prompt_seconds > 0 and not args.rules_from and not args.bundle else None,
    )
    output = Path(args.output)
    several = len(inputs) > 1 or any(root is not None for _, root in inputs)
    failed = 0
    bar = tqdm(inputs, unit="stack", desc="cut", disable=args.no_progress or not several, file=sys.stderr)
    for stack, root in bar:
        target = edit_path(output, stack, root, several)
        try:
            report = cut_stack(stack, target, options)
        except MultitrackError as exc:
            failed += 1
            tqdm.write(f"multitrack cut: error: {exc}", file=sys.stderr)
            continue
        for warning in report.warnings:
            tqdm.write(f"warning: {stack}: {warning}", file=sys.stderr)
        lines = [f"{stack} -> {target}: {report.cuts} cuts, sequence {report.edit.name!r}"]
        lines += report.pairing_lines()
        lines.append(f"  rules ({report.rules_source}): {_settings_text(report.rules)}")
        tqdm.write("\n".join(lines))
    bar.close()
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _settings_text(settings) -> str:
    return (
        f"delay {settings.delay_s:g} s, minimum shot {settings.min_shot_s:g} s, wide after "
        f"{settings.silence_s:g} s of silence or {settings.overlap_s:g} s of overlap"
    )


def _fit_lines(fit, what: str) -> str:
    lines = [f"rules fitted on {what} ({fit.frames} frames, {fit.grid_points} settings in {fit.seconds:.1f} s):"]
    for objective in ("shown_agreement", "cut_f1"):
        best = fit.best(objective)
        lines.append(
            f"  best {objective}: {_settings_text(best.settings)}: shown agreement "
            f"{best.shown_agreement:.3f}, cut F1 {best.cut_f1:.3f}"
        )
    return "\n".join(lines)


def _bundle_rules(bundle: Path, fps: float | None):
    """The bundle's decision rate (`data.fps`) and the fitted rules it carries (`rules`), if any."""
    from multitrack.errors import BundleError
    from multitrack.sample.switcher import DECISION_FPS, RuleSettings

    path = bundle / "bundle.json"
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot be read as a bundle: {exc}") from None
    rate = fps or (document.get("config", {}).get("data", {}).get("fps")) or DECISION_FPS
    rules = document.get("rules")
    return float(rate), (RuleSettings.from_json(rules) if isinstance(rules, dict) else None)
