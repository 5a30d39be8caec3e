"""`agent-learning simulate`: does the learning close the gap to what users prefer? (docs/does-it-learn.md)"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, Progress, UsageError, table
from jobs.simulation import population
from jobs.simulation.chart import learning_curves_svg
from jobs.simulation.configurations import SYNTAX, InvalidConfiguration, parse_configuration
from jobs.simulation.report import CHECKPOINTS, table_rows
from jobs.simulation.simulate import report, simulate

DEFAULT_CONFIGURATIONS = ("conservative", "balanced", "fast")
MAX_AGENTS, MAX_FEEDBACKS = 100_000, 100_000


def population_description() -> dict:
    """The simulated users' parameters, as written into the JSON report."""
    return {
        "preferenceSpread": population.PREFERENCE_SPREAD,
        "shownSpread": population.SHOWN_SPREAD,
        "attributionScale": population.ATTRIBUTION_SCALE,
        "traitNamed": population.TRAIT_NAMED,
        "traitWeight": population.TRAIT_WEIGHT,
        "actionWeight": population.ACTION_WEIGHT,
        "satisfactionNoise": population.SATISFACTION_NOISE,
        "distanceScale": population.DISTANCE_SCALE,
        "generosity": list(population.GENEROSITY),
        "feedbackMix": dict(population.FEEDBACK_MIX),
        "sessionLength": population.SESSION_LENGTH,
        "feedbackGapMinutes": population.FEEDBACK_GAP_MINUTES,
    }


def cmd_simulate(system: System, args: argparse.Namespace) -> int:
    settings = system.service.settings
    if not 1 <= args.agents <= MAX_AGENTS:
        raise UsageError(f"--agents {args.agents}: choose from 1 to {MAX_AGENTS:,}")
    if not 1 <= args.feedbacks <= MAX_FEEDBACKS:
        raise UsageError(f"--feedbacks {args.feedbacks}: choose from 1 to {MAX_FEEDBACKS:,}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: at least 1")
    try:
        configurations = [parse_configuration(text, settings) for text in args.config or DEFAULT_CONFIGURATIONS]
    except InvalidConfiguration as error:
        raise UsageError(str(error)) from None
    ticker, started = Progress(every=1.0), time.monotonic()

    def progress(done: int, total: int) -> None:
        if args.quiet or not (ticker.due() or done == total):
            return
        elapsed = time.monotonic() - started
        left = elapsed / done * (total - done)
        bar = "#" * int(30 * done / total)
        print(
            f"\r  [{bar:<30}] {done:,}/{total:,} agents  {elapsed:.0f} s, ~{left:.0f} s left", end="", file=sys.stderr
        )
        if done == total:
            print(file=sys.stderr)

    curves = simulate(
        configurations,
        agents=args.agents,
        feedbacks=args.feedbacks,
        seed=args.seed,
        settings=settings,
        workers=args.workers,
        progress=progress,
    )
    summaries = report(configurations, curves)
    columns, rows = table_rows(summaries)
    print(
        f"{args.agents:,} simulated agents × {args.feedbacks:,} feedbacks per configuration, seeds {args.seed}.."
        f"{args.seed + args.agents - 1} (paired), rules version {settings.rules_version}:"
    )
    print(table(columns, rows, numeric=frozenset(columns[1:])))
    print(
        "closed: share of the gap between archetype and preferred traits closed (1 = reached, < 0 = further away); "
        "worse: agents further away than their archetype; gain: value − archetype's value; regret: best fixed value "
        "− value; vs first: closed − the first configuration's, agent by agent."
    )
    document = {
        "agents": args.agents,
        "feedbacks": args.feedbacks,
        "seed": args.seed,
        "rulesVersion": settings.rules_version,
        "population": population_description(),
        "configurations": summaries,
        "perAgentClosed": {
            c.name: {str(n): [curve.closed[curve.points.index(n)] for curve in these] for n in _checkpoints(these)}
            for c, these in zip(configurations, curves, strict=True)
        },
    }
    if args.json:
        _write(args.json, json.dumps(document, indent=1) + "\n")
    if args.markdown:
        _write_markdown(args.markdown, _markdown(args, columns, rows))
    if args.svg:
        title = f"Share of trait error closed, {args.agents:,} simulated agents per configuration (95% bands)"
        _write(args.svg, learning_curves_svg(summaries, title))
    return EXIT_OK


def _checkpoints(curves) -> list[int]:
    points = curves[0].points
    return [n for n in CHECKPOINTS if n in points] or [points[-1]]


BEGIN, END = "<!-- simulate:begin -->", "<!-- simulate:end -->"


def _markdown(args: argparse.Namespace, columns: list[str], rows: list[list[str]]) -> str:
    command = "agent-learning simulate " + " ".join(
        [f"--agents {args.agents}", f"--feedbacks {args.feedbacks}", f"--seed {args.seed}"]
        + [f"--config {c}" for c in args.config or DEFAULT_CONFIGURATIONS]
        + [f"--markdown {args.markdown}"]
        + ([f"--svg {args.svg}"] if args.svg else [])
    )
    lines = [f"Made by `{command}`:", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _write_markdown(path: str, block: str) -> None:
    """Replaces what stands between the markers in `path`, or writes the table alone to a new file."""
    target = Path(path)
    text = target.read_text() if target.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + "\n" + block + END + rest.split(END, 1)[1]
    elif text:
        raise UsageError(f"{path} has no {BEGIN} … {END} block to replace; add one where the table goes")
    else:
        text = block
    _write(path, text)


def _write(path: str, text: str) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    print(f"wrote {path}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="learning curves on simulated users, per configuration (docs/does-it-learn.md)",
        description="Drives the product's own learning rules (the rules in force) with simulated users who prefer "
        "hidden traits and actions, and reports how much of the gap each configuration closes. Records nothing.",
    )
    p.add_argument(
        "--config",
        action="append",
        metavar="CONFIG",
        help=f"a configuration to simulate, {SYNTAX}; repeatable (default: the three profiles)",
    )
    p.add_argument("--agents", type=int, default=200, help="simulated agents per configuration (default 200)")
    p.add_argument("--feedbacks", type=int, default=1000, help="feedbacks per agent (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="the first world's seed; agent i uses seed + i (default 1)")
    p.add_argument("--workers", type=int, help="processes (default: every core)")
    p.add_argument("--json", metavar="FILE", help="write the whole report, per-agent results too, as JSON")
    p.add_argument("--svg", metavar="FILE", help="write the learning curves as an SVG chart")
    p.add_argument(
        "--markdown",
        metavar="FILE",
        help=f"write the table as Markdown: between {BEGIN} and {END} in FILE if it has them, else a new FILE",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_simulate)
