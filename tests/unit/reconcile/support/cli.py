"""`livebridge reconcile` as the command line parses it, with the environment of the moment."""

from __future__ import annotations

import argparse
import os

from services.bridge.config import command_env
from services.cli import parser


def parse(argv: list[str]) -> argparse.Namespace:
    return parser(command_env(os.environ)).parse_args(argv)
