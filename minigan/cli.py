"""``python -m minigan``: the command line.

Subcommands: ``train`` (train a GAN from a preset or a config), ``sample`` (draw
from a trained generator), ``eval`` (score a checkpoint's samples), ``sanity``
(the scale image scores are read on), ``classifier train`` (the feature extractor
behind the image scores), ``lab`` (an experiment: configurations x seeds, tabulated), ``gradcheck`` (check every registered op and layer
against finite differences and print a table).
"""

from __future__ import annotations

import argparse
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line and exit status 2, as argparse does, without the usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser():
    parser = _Parser(prog="python -m minigan", description="minigan: a small deep-learning framework for GANs")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    from .gan.commands import add_sample_parser, add_train_parser
    from .metrics.commands import add_classifier_parser, add_eval_parser, add_sanity_parser

    add_train_parser(sub)
    add_sample_parser(sub)
    add_eval_parser(sub)
    add_sanity_parser(sub)
    add_classifier_parser(sub)
    from .lab.commands import add_lab_parser

    add_lab_parser(sub)
    check = sub.add_parser("gradcheck", help="check the gradients of every op and layer against finite differences")
    check.add_argument("--device", default="cpu", help="cpu, cuda or strict (array-api-strict)")
    check.add_argument("--only", action="append", metavar="NAME", help="check only this op or layer (repeatable)")
    check.add_argument("--first-order", action="store_true", help="skip the second-order (gradgradcheck) rows")
    return parser


def gradcheck_command(args) -> int:
    from . import backend
    from .gradcheck_cases import load_all_cases, run_cases

    try:
        device = backend.check_device(args.device)
    except (RuntimeError, ValueError) as err:
        print(f"python -m minigan gradcheck: {err}", file=sys.stderr)
        return 2
    cases = load_all_cases()
    names = sorted({c.name for c in cases})
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        print(f"python -m minigan gradcheck: unknown name {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    header = f"{'name':<32} {'configuration':<60} {'order':>5} {'max abs err':>12} {'max rel err':>12}  result"
    print(header)
    print("-" * len(header))
    failures = []
    for case, order, report in run_cases(device, set(args.only or []), second_order=not args.first_order):
        result = "pass" if report.passed else "FAIL"
        print(f"{case.name:<32} {case.config:<60} {order:>5} {report.max_abs_error:>12.2e} {report.max_rel_error:>12.2e}  {result}", flush=True)
        if not report.passed:
            failures.append(report.message)
    for message in failures:
        print("\n" + message)
    total = sum(1 for c in cases if not args.only or c.name in args.only)
    print(f"\n{'all passed' if not failures else f'{len(failures)} failed'} ({total} cases on {device})")
    return 1 if failures else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gradcheck":
        return gradcheck_command(args)
    from .gan.commands import sample_command, train_command
    from .lab.commands import lab_command
    from .metrics.commands import classifier_command, eval_command, sanity_command

    handlers = {"train": train_command, "sample": sample_command, "eval": eval_command,
                "sanity": sanity_command, "classifier": classifier_command,
                "lab": lab_command}
    return handlers[args.command](args)
