"""``sagestack serve | env | status | reset | coverage``.

The settings flags come from the Settings object's field descriptions (settings.py), so a setting added
there is a flag, an environment variable and a line of docs/configuration.md at once.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .settings import COMMANDS, Settings, SettingsError, specs


def add_settings_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every setting that ``command`` takes (settings.py says which)."""
    for spec in specs():
        if command not in spec.commands:
            continue
        default = spec.shown_default().replace("`", "")
        parser.add_argument(
            spec.flag,
            dest=spec.name,
            metavar=spec.metavar or spec.name.upper(),
            choices=spec.choices,
            type=str.lower if spec.choices else None,
            default=None,
            help=f"{spec.help} (default: {default}; env {spec.env})".replace("%", "%%"),
        )


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(**{spec.name: getattr(args, spec.name, None) for spec in specs()})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sagestack", description="SageMaker you run yourself.")
    parser.add_argument("--version", action="version", version=f"sagestack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = dict(COMMANDS)
    commands = {name: sub.add_parser(name, help=helps[name], description=helps[name]) for name, _ in COMMANDS}
    for name, command in commands.items():
        add_settings_flags(command, name)
    commands["env"].add_argument("--json", action="store_true", help="print a JSON object instead of exports")
    commands["status"].add_argument("--json", action="store_true", help="print the status as JSON")
    commands["reset"].add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    commands["coverage"].add_argument("--markdown", action="store_true", help="as the docs/coverage.md table")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        from .server import serve as run

        return run(settings)
    if args.command == "env":
        import json

        from .client_env import client_environment, render_exports

        values = client_environment(settings)
        print(json.dumps(values, indent=2) if args.json else render_exports(values))
        return 0
    if args.command == "status":
        from .status import status_command

        return status_command(settings, as_json=args.json)
    if args.command == "reset":
        from .status import reset_command

        return reset_command(settings, assume_yes=args.yes)
    if args.command == "coverage":
        from .coverage import render

        print(render(markdown=args.markdown).rstrip("\n"))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
