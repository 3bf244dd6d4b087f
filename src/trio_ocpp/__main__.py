"""``python -m trio_ocpp``: run the example central system."""

from __future__ import annotations

import argparse
import contextlib
import logging

import trio

from .examples.central_system import CLASSES, main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m trio_ocpp", description="Run the trio-ocpp example central system."
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (0.0.0.0)")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on (9000)")
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO shows frames)")
    parser.add_argument(
        "--versions",
        default="2.1,2.0.1,1.6",
        help="comma-separated OCPP versions to speak (2.1,2.0.1,1.6)",
    )
    parser.add_argument(
        "--default-version",
        default="1.6",
        help="version for clients that offer no subprotocol; 'none' to close them (1.6)",
    )
    args = parser.parse_args(argv)
    args.versions = tuple(v.strip() for v in args.versions.split(",") if v.strip())
    unknown = set(args.versions) - set(CLASSES)
    if unknown:
        parser.error(f"unknown versions: {', '.join(sorted(unknown))}")
    if args.default_version.lower() == "none":
        args.default_version = None
    return args


def run(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.host, args.port, args.versions, args.default_version)


if __name__ == "__main__":
    run()
