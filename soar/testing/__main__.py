"""``python -m soar.testing serve KIND --port N --seed FILE``: one fake in its own process until SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

from soar.testing.helpers import FAKES


def main(argv: list[str] | None = None) -> int:
    """Serve one fake; print ``{"kind", "url", "config"}`` as one JSON line once it listens."""
    parser = argparse.ArgumentParser(prog="python -m soar.testing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one fake until SIGTERM or SIGINT")
    serve.add_argument("kind", choices=sorted(FAKES))
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--seed", type=Path, help="YAML or JSON: the fake's settings and its users, pods...")
    args = parser.parse_args(argv)
    data: dict[str, Any] = {}
    if args.seed is not None:
        try:
            data = yaml.safe_load(args.seed.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            print(f"{args.seed}: cannot read the seed: {exc}".replace("\n", " "), file=sys.stderr)
            return 2
    try:
        fake = FAKES[args.kind].from_seed(data, port=args.port)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        print(f"{args.seed}: bad seed for {args.kind}: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        # The config holds the fake's test credentials: the parent needs them to build settings.
        print(json.dumps({"kind": fake.kind, "url": fake.url, "config": fake.config}), flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
