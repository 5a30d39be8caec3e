"""`agent-learning`: the command line of the service (see the README for every command).

Each room of commands registers itself (`add_commands`); this module only builds the parser,
wires the system from the environment (`adapters.bootstrap`) and turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapters.bootstrap import Config, ConfigurationError, bootstrap
from adapters.cli import (
    admin,
    agents,
    contract,
    dead_letters,
    demo,
    evaluate,
    ingest,
    insights,
    jobs,
    learning_config,
    models,
    projections,
    relay,
    rules,
    servers,
    simulate,
    tokens,
)
from adapters.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, err
from adapters.service.learning_service import UnknownAgent
from projections.catch_up_runner import ProjectionFailed, UnknownProjection

# The order of `agent-learning --help`.
COMMAND_ROOMS = (
    demo,
    servers,
    tokens,
    ingest,
    agents,
    relay,
    dead_letters,
    projections,
    admin,
    learning_config,
    rules,
    contract,
    insights,
    models,
    jobs,
    simulate,
    evaluate,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-learning",
        description="Event-sourced learning from user feedback for conversational AI agents.",
        epilog="Backends are chosen by environment variables: AGENT_LEARNING_HOME, AGENT_LEARNING_EVENT_STORE, "
        "AGENT_LEARNING_READ_MODELS, AGENT_LEARNING_KAFKA (see the README).",
    )
    parser.add_argument(
        "--home", help="folder of the embedded store (default: $AGENT_LEARNING_HOME or ./.agent-learning)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for room in COMMAND_ROOMS:
        room.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        system = bootstrap(Config.from_env(home=args.home))
    except ConfigurationError as error:
        err(str(error))
        return EXIT_USAGE
    except ConnectionError as error:  # a store that does not answer: one line, not a traceback
        err(str(error))
        return EXIT_FAILED
    try:
        return args.handler(system, args)
    except UsageError as error:
        err(str(error))
        return EXIT_USAGE
    except UnknownAgent as error:
        err(str(error))
        return EXIT_FAILED
    except UnknownProjection as error:
        err(str(error))
        return EXIT_USAGE
    except ProjectionFailed as error:
        err(str(error))
        return EXIT_FAILED
    except ConnectionError as error:  # a store stopped answering
        err(str(error))
        return EXIT_FAILED
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK
    finally:
        system.close()


if __name__ == "__main__":
    sys.exit(main())
