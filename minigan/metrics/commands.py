"""``python -m minigan classifier train``, ``eval`` and ``sanity``: the command-line face of the metrics.

``classifier train`` trains the feature extractor; ``eval`` scores a training
checkpoint's samples (mode coverage for 2-D runs, FID and the rest for images);
``sanity`` prints the scale those image numbers are read on. Results go to stdout
as JSON, progress to stderr; bad input exits with status 2 and one line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..gan.commands import UsageError
from ..gan.sampling import checkpoint_file, draw_samples, load_generator

MIXTURES = ("ring", "grid")
IMAGE_DATASETS = ("mnist", "fashion-mnist")
DEFAULT_SAMPLES = {"2d": 2500, "image": 10_000}


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _fail(command, err) -> int:
    # Data-not-found messages list the folders searched, one per line: keep them, on one line.
    print(f"python -m minigan {command}: {' '.join(str(err).split())}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- parsers

def add_classifier_parser(sub):
    p = sub.add_parser("classifier", help="train minigan's image classifier, the feature extractor of eval and sanity")
    actions = p.add_subparsers(dest="classifier_command", metavar="train", required=True)
    t = actions.add_parser("train", help="train the classifier and save its weights")
    t.add_argument("--dataset", default="mnist", choices=IMAGE_DATASETS)
    t.add_argument("--data-dir", metavar="DIR", help="where the IDX files are (else $MINIGAN_DATA, then ~/.cache/minigan)")
    t.add_argument("--out", metavar="PATH", help="weights file (default ~/.cache/minigan/classifier-<dataset>.npz)")
    t.add_argument("--epochs", type=int, help="passes over the training images (default 3 on a full training set, else 10)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", help="cpu, cuda or strict")
    return p


def add_eval_parser(sub):
    p = sub.add_parser("eval", help="score a checkpoint's samples: mode coverage (2-D) or FID, precision, recall (images)")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint file, or a run directory (its latest)")
    p.add_argument("--n", type=int, help="samples to draw (default 2,500 for 2-D runs, 10,000 for images)")
    p.add_argument("--data-dir", metavar="DIR", help="where the real test images are (default: the run's data.data_dir)")
    p.add_argument("--classifier", metavar="PATH", help="classifier weights (default ~/.cache/minigan/classifier-<dataset>.npz)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise")
    p.add_argument("--device", default=None, help="cpu, cuda or strict (default: the run's device)")
    return p


def add_sanity_parser(sub):
    p = sub.add_parser("sanity", help="the scale for reading image metrics: real vs real, vs blurred, vs noise")
    p.add_argument("--dataset", default="mnist", choices=IMAGE_DATASETS)
    p.add_argument("--data-dir", metavar="DIR", help="where the test images are")
    p.add_argument("--classifier", metavar="PATH", help="classifier weights (default ~/.cache/minigan/classifier-<dataset>.npz)")
    p.add_argument("--n", type=int, help="images per side (default: half the test set)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or strict")
    return p


# ---------------------------------------------------------------- classifier train

def classifier_command(args) -> int:
    from .. import backend
    from ..data import DataNotFoundError
    from .classifier import default_path, fit_and_describe, save_classifier

    try:
        if args.epochs is not None and args.epochs <= 0:
            raise UsageError(f"--epochs must be positive, got {args.epochs}")
        backend.set_device(backend.check_device(args.device))
        out = Path(args.out) if args.out else default_path(args.dataset)
        if out.is_dir():
            raise UsageError(f"--out {out} is a directory; give a file name such as {out / f'classifier-{args.dataset}.npz'}")
        model, info = fit_and_describe(args.dataset, args.data_dir, epochs=args.epochs, seed=args.seed, log=_log)
    except (UsageError, ValueError, RuntimeError, DataNotFoundError) as err:
        return _fail("classifier train", err)
    save_classifier(model, out, info)
    _log(f"saved to {out}")
    print(json.dumps({"path": str(out), **info}, indent=2))
    return 0


# ---------------------------------------------------------------- eval

def _classifier_for(dataset, path, data_dir):
    from .classifier import default_path, load_or_train_classifier

    classifier, info = load_or_train_classifier(dataset, path, data_dir, log=_log)
    path = path or default_path(dataset)
    if info.get("dataset") != dataset:
        raise UsageError(
            f"the classifier {path} was trained on {info.get('dataset')!r}, but these images are {dataset!r}; "
            f"pass a {dataset} classifier (python -m minigan classifier train --dataset {dataset} --out PATH)"
        )
    return classifier, {"path": str(path), **{key: info.get(key) for key in ("trained_on", "test_accuracy")}}


def eval_command(args) -> int:
    from ..data import DataNotFoundError, load_dataset
    from ..gan.checkpoint import CheckpointError
    from .evaluate import evaluate_images, evaluate_mixture

    started = time.perf_counter()
    try:
        if args.n is not None and args.n <= 3:
            raise UsageError(f"--n must be at least 4 samples (hundreds to thousands for meaningful numbers), got {args.n}")
        path = checkpoint_file(args.checkpoint)
        generator, config, step, which = load_generator(path, args.device)
        dataset = config["data"]["dataset"]
        kind = "2d" if dataset in MIXTURES else "image"
        if kind == "image" and dataset not in IMAGE_DATASETS:
            raise UsageError(f"the run in {path} trained on {dataset!r}; eval knows {', '.join(MIXTURES + IMAGE_DATASETS)}")
        n = args.n or DEFAULT_SAMPLES[kind]
        report = {"checkpoint": str(path), "step": step, "dataset": dataset, "generator": which, "samples": n}
        samples = draw_samples(generator, n, config["model"], args.seed)
        if kind == "2d":
            report.update(evaluate_mixture(samples, dataset))
        else:
            data_dir = args.data_dir or config["data"]["data_dir"] or None
            real_images, _ = load_dataset(dataset, "test", data_dir, download=config["data"]["download"])
            classifier, about = _classifier_for(dataset, args.classifier, data_dir)
            report.update(evaluate_images(samples, real_images, classifier))
            report["classifier"] = about
    except (UsageError, CheckpointError, ValueError, RuntimeError, KeyError, DataNotFoundError) as err:
        return _fail("eval", err)
    report["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(report, indent=2))
    return 0


# ---------------------------------------------------------------- sanity

def sanity_command(args) -> int:
    from .. import backend
    from ..data import DataNotFoundError, load_dataset
    from .sanity import REPORTED, sanity_scale

    started = time.perf_counter()
    try:
        backend.set_device(backend.check_device(args.device))
        images, _ = load_dataset(args.dataset, "test", args.data_dir)
        if args.n is not None and not 3 < args.n <= len(images) // 2:
            raise UsageError(f"--n must be from 4 to {len(images) // 2} (half the {len(images)} test images), got {args.n}")
        classifier, about = _classifier_for(args.dataset, args.classifier, args.data_dir)
        scale = sanity_scale(images, classifier, n=args.n, seed=args.seed)
    except (UsageError, ValueError, RuntimeError, DataNotFoundError) as err:
        return _fail("sanity", err)
    _log(f"\n{'':<16}" + "".join(f"{key:>18}" for key in REPORTED))
    for name in ("real_vs_real", "real_vs_blurred", "real_vs_noise"):
        _log(f"{name:<16}" + "".join(f"{scale[name][key]:>18.4g}" for key in REPORTED))
    report = {"dataset": args.dataset, **scale, "classifier": about, "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(report, indent=2))
    return 0
