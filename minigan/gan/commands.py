"""``python -m minigan train`` and ``python -m minigan sample``: the command-line face of the trainer."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

# option -> config key; each is also settable as --set section.key=value
OVERRIDES = {
    "loss": "loss.name",
    "penalty": "loss.penalty",
    "penalty_weight": "loss.penalty_weight",
    "label_smoothing": "loss.label_smoothing",
    "clip_value": "loss.clip_value",
    "optimizer": "optim.name",
    "lr_g": "optim.lr_g",
    "lr_d": "optim.lr_d",
    "beta1": "optim.beta1",
    "beta2": "optim.beta2",
    "n_critic": "optim.n_critic",
    "grad_clip_norm": "optim.grad_clip_norm",
    "grad_clip_value": "optim.grad_clip_value",
    "ema_decay": "optim.ema_decay",
    "lr_schedule": "optim.lr_schedule",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "device": "train.device",
    "data_dir": "data.data_dir",
    "momentum": "optim.momentum",
    "weight_decay": "optim.weight_decay",
    "unrolled_steps": "optim.unrolled_steps",
    "unrolled_lr": "optim.unrolled_lr",
    "pack": "model.pack",
    "d_dropout": "model.d_dropout",
    "spectral_norm": "model.spectral_norm",
    "minibatch_std": "model.minibatch_std",
    "latent": "model.latent",
    "instance_noise": "loss.instance_noise",
    "feature_matching": "loss.feature_matching",
    "historical_averaging": "loss.historical_averaging",
    "max_seconds": "train.max_seconds",
}
SWITCHES = {"spectral_norm", "feature_matching"}  # on/off options: a bare --spectral-norm means true


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def add_train_parser(sub):
    p = sub.add_parser("train", help="train a GAN from a preset or a TOML config")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--preset", help="ring (default), grid, mnist-mlp, mnist-dcgan, mnist-wgan-gp, fashion-dcgan")
    source.add_argument("--config", metavar="FILE.toml", help="a config file (see minigan/presets/*.toml)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<preset>)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="generator steps")
    length.add_argument("--epochs", type=int, help="epochs over the training data")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    for option, key in OVERRIDES.items():
        flag = "--" + option.replace("_", "-")
        if option in SWITCHES:
            p.add_argument(flag, dest=option, nargs="?", const="true", metavar="BOOL", help=f"sets {key} (true when bare)")
        else:
            p.add_argument(flag, dest=option, metavar=key.split(".")[1].upper(), help=f"sets {key}")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="set any config entry (repeatable)")
    return p


def add_sample_parser(sub):
    p = sub.add_parser("sample", help="draw samples from a trained generator")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a checkpoint file, or a run directory (its latest)")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, metavar="FILE", help=".npy (the raw samples) or .png (a grid or a scatter plot)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    return p


def _overrides(args) -> dict:
    overrides = {key: getattr(args, option) for option, key in OVERRIDES.items() if getattr(args, option) is not None}
    from ..config import ConfigError, parse_assignments

    try:
        overrides.update(parse_assignments(args.set))
    except ConfigError as err:
        raise UsageError(str(err)) from None
    if args.steps is not None:
        if args.steps <= 0:
            raise UsageError(f"--steps must be a positive number of generator steps, got {args.steps}")
        overrides["train.steps"] = args.steps
    if args.epochs is not None:
        if args.epochs <= 0:
            raise UsageError(f"--epochs must be positive, got {args.epochs}")
        overrides["train.epochs"], overrides["train.steps"] = args.epochs, 0
    if args.no_progress:
        overrides["train.progress"] = False
    return overrides


def train_command(args) -> int:
    from .. import backend
    from ..config import ConfigError, merge, resolve
    from ..data import DataNotFoundError
    from .trainer import Trainer, TrainingDiverged

    try:
        overrides = _overrides(args)
        out = Path(args.out or Path("runs") / (args.preset or (Path(args.config).stem if args.config else "ring")))
        if args.resume and (out / "config.toml").exists():
            config = resolve(config_file=out / "config.toml")  # the run's own resolved config
            for dotted, value in overrides.items():
                section, _, key = dotted.partition(".")
                merge(config, {section: {key: value}}, "command line")
        else:
            config = resolve(args.preset, args.config, overrides)
        backend.check_device(config["train"]["device"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer = Trainer(config, out, resume=args.resume, log=lambda m: print(m, file=sys.stderr))
        for warning in caught:  # the message alone: the source line it came from says nothing to a user
            print(f"warning: {warning.message}", file=sys.stderr)
    except (ConfigError, UsageError, ValueError, RuntimeError, DataNotFoundError) as err:
        print(f"python -m minigan train: {err}", file=sys.stderr)
        return 2
    print(f"training {config.get('preset') or args.config} for {trainer.total_steps} steps into {out}", file=sys.stderr)
    try:
        summary = trainer.train()
    except TrainingDiverged as err:
        print(f"python -m minigan train: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        last = trainer.latest_checkpoint()
        print(f"\ninterrupted at step {trainer.step}; the latest checkpoint is {last}; continue with --resume", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2))
    return 0


def sample_command(args) -> int:
    from .checkpoint import CheckpointError
    from .sampling import checkpoint_file, draw_samples, load_generator

    if args.n <= 0:
        print(f"python -m minigan sample: --n must be positive, got {args.n}", file=sys.stderr)
        return 2
    if Path(args.out).suffix not in (".npy", ".png"):
        print(f"python -m minigan sample: --out must end in .npy or .png, got {args.out}", file=sys.stderr)
        return 2
    try:
        path = checkpoint_file(args.checkpoint)
        generator, config, _, _ = load_generator(path, args.device)
    except (CheckpointError, RuntimeError, ValueError, KeyError) as err:
        print(f"python -m minigan sample: {err}", file=sys.stderr)
        return 2
    samples = draw_samples(generator, args.n, config["model"], args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples)
    elif samples.ndim == 4:
        from .plots import save_image_grid

        save_image_grid(samples, out, columns=int(np.ceil(np.sqrt(len(samples)))))
    else:
        from ..data import mixture_modes, sample_mixture
        from .plots import save_scatter

        modes, std = mixture_modes(config["data"]["dataset"])
        save_scatter(samples, sample_mixture(modes, std, 2000, seed=0), out, modes, f"{len(samples)} samples from {path.name}")
    print(f"wrote {len(samples)} samples {samples.shape[1:]} to {out}", file=sys.stderr)
    return 0
