"""``sagestack serve | env | coverage``."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .settings import DEFAULT_HOST, DEFAULT_PORT, Settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where metadata, objects and logs live "
                        "(default: $SAGESTACK_DATA_DIR or ~/.local/share/sagestack)")
    parser.add_argument("--host", help=f"address to bind/reach (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--region", help="the region the server answers as (default us-east-1)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=args.host, port=args.port, data_dir=args.data_dir, region=args.region,
        database_url=getattr(args, "database_url", None), log_level=getattr(args, "log_level", None),
        access_key_id=getattr(args, "access_key_id", None),
        secret_access_key=getattr(args, "secret_access_key", None),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sagestack", description="SageMaker you run yourself.")
    parser.add_argument("--version", action="version", version=f"sagestack {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the server")
    _common(serve)
    serve.add_argument("--database-url", help="SQLAlchemy URL of the metadata store "
                       "(default: SQLite in the data dir; e.g. postgresql+psycopg://user@host/db)")
    serve.add_argument("--access-key-id", help="the default account's access key id")
    serve.add_argument("--secret-access-key", help="the default account's secret key")
    serve.add_argument("--log-level", default=None, help="debug, info, warning (default info)")

    env = sub.add_parser("env", help="print the shell exports that point AWS clients at the server")
    _common(env)
    env.add_argument("--json", action="store_true", help="print a JSON object instead of exports")

    coverage = sub.add_parser("coverage", help="print implemented vs. all operations per service")
    coverage.add_argument("--markdown", action="store_true", help="as the docs/coverage.md table")

    args = parser.parse_args(argv)
    if args.command == "serve":
        from .server import serve as run

        return run(_settings(args))
    if args.command == "env":
        import json

        from .client_env import client_environment, render_exports

        values = client_environment(_settings(args))
        print(json.dumps(values, indent=2) if args.json else render_exports(values))
        return 0
    if args.command == "coverage":
        from .coverage import render

        print(render(markdown=args.markdown).rstrip("\n"))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
