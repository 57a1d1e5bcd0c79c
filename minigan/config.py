"""Run configurations: the defaults, the presets (readable TOML files), and overrides.

A run is fully described by a nested dict with the sections below; a preset or a
``--config`` file changes some entries, command-line options change more, and the
resolved result is written to the run directory as ``config.toml``. Unknown
sections or keys are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PRESET_DIR = Path(__file__).parent / "presets"

DEFAULTS = {
    "data": {
        "dataset": "ring",          # ring | grid | mnist | fashion-mnist
        "n_samples": 100_000,       # 2-D only: the size of the sampled training set
        "split": "auto",            # images: train | test | auto (train if available, else test, with a warning)
        "data_dir": "",             # images: where the IDX files are ("" = $MINIGAN_DATA, then ~/.cache/minigan)
        "download": True,
    },
    "model": {
        "architecture": "mlp",      # mlp | image-mlp | dcgan | dcgan-critic
        "latent_dim": 2,
        "latent": "normal",         # normal (N(0, I)) | uniform (on [-1, 1]^latent_dim)
        "hidden": 128,
        "d_hidden": 128,
        "layers": 3,
        "g_batch_norm": False,      # mlp: BatchNorm1d before each ReLU of G (the PacGAN grid generator)
        "width": 64,                # dcgan: channels of the 14x14 layer
        "init": "default",          # default (PyTorch's) | dcgan (N(0, 0.02))
        "pack": 1,                  # PacGAN: samples the discriminator sees at once
        "d_dropout": 0.0,           # dropout probability after each hidden layer of D
        "spectral_norm": False,     # spectral normalization of every Linear/Conv weight in D
        "minibatch_std": 0,         # group size of D's minibatch standard-deviation feature (0 = off)
    },
    "loss": {
        "name": "non-saturating",   # minimax | non-saturating | lsgan | hinge | wasserstein
        "label_smoothing": 0.0,     # one-sided: real labels 1 - s
        "penalty": "none",          # none | gp (WGAN-GP) | r1
        "penalty_weight": 10.0,
        "clip_value": 0.0,          # original WGAN weight clipping when > 0
        "instance_noise": 0.0,      # std of Gaussian noise on D's inputs, annealed linearly to 0
        "feature_matching": False,  # G matches the mean of D's last hidden features instead of fooling D
        "historical_averaging": 0.0,  # weight of ||theta - mean of past thetas||^2 in both players' losses
    },
    "optim": {
        "name": "adam",             # adam | rmsprop | sgd
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "beta1": 0.5,
        "beta2": 0.999,
        "momentum": 0.0,            # sgd and rmsprop
        "weight_decay": 0.0,
        "n_critic": 1,              # discriminator steps per generator step
        "grad_clip_norm": 0.0,      # clip each network's gradients to this global norm when > 0
        "grad_clip_value": 0.0,
        "ema_decay": 0.0,           # EMA of the generator's weights, used for sampling, when > 0
        "lr_schedule": "constant",  # constant | linear (decay to 0) | cosine
        "unrolled_steps": 0,        # unrolled GAN: G's loss sees D after k differentiable steps
        "unrolled_lr": 0.0,         # the step size of those unrolled D steps (0 = lr_d)
    },
    "train": {
        "steps": 0,                 # generator steps; 0 = use epochs
        "epochs": 1,
        "batch_size": 64,
        "seed": 0,
        "device": "cpu",
        "checkpoint_every": 1000,   # steps
        "keep_checkpoints": 3,
        "sample_every": 0,          # steps; 0 = every epoch
        "eval_samples": 10_000,     # 2-D: samples for the mode-coverage metrics
        "eval_every": 0,            # steps between evaluations (0 = none; 2-D runs are still scored at the end)
        "progress": True,
        "max_seconds": 0.0,         # stop (with a checkpoint) after this much training time in this invocation (0 = no limit)
    },
    "alarms": {
        "enabled": True,
        "window": 200,              # steps the gradient and loss alarms look back over
        "vanishing_grad_norm": 1e-2,
        "d_wins_margin": 0.8,       # mean D(x) - mean D(G(z)) above which D "wins"
        "min_coverage": 0.75,       # share of modes or classes below which mode collapse is reported
        "oscillation_amplitude": 1.0,  # peak-to-peak swing of the smoothed generator loss
    },
}


class ConfigError(ValueError):
    """A configuration entry that does not exist or has the wrong type."""


def presets() -> list:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_toml(path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None


def parse_assignments(items) -> dict:
    """Command-line ``--set SECTION.KEY=VALUE`` items -> {'section.key': 'value'} (values stay text:
    ``resolve`` converts each to its entry's type). A malformed item raises ConfigError."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        result[key] = value
    return result


def resolve(preset=None, config_file=None, overrides=None) -> dict:
    """DEFAULTS, then the preset (default 'ring') or a config file, then overrides {'section.key': value}."""
    config = copy.deepcopy(DEFAULTS)
    if config_file:
        merge(config, load_toml(config_file), str(config_file))
    else:
        name = preset or "ring"
        if name not in presets():
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(presets())}")
        merge(config, load_toml(PRESET_DIR / f"{name}.toml"), f"preset {name}")
        config["preset"] = name
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        merge(config, {section: {key: value}}, "command line")
    return config


def merge(config: dict, update: dict, source: str) -> dict:
    """Copy ``update`` into ``config``, refusing unknown sections/keys and mismatched types."""
    for section, values in update.items():
        if section == "preset":
            config["preset"] = values
            continue
        if section not in DEFAULTS or not isinstance(values, dict):
            raise ConfigError(f"{source}: unknown section [{section}]; sections are {', '.join(DEFAULTS)}")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}; keys of [{section}] are {', '.join(DEFAULTS[section])}"
                )
            config[section][key] = _coerce(DEFAULTS[section][key], value, f"{source}: {section}.{key}")
    return config


def _coerce(default, value, where):
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
    elif isinstance(default, int) and not isinstance(value, bool):
        try:
            if float(value) == int(float(value)):
                return int(float(value))
        except (TypeError, ValueError):
            pass
    elif isinstance(default, float) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    elif isinstance(default, str) and isinstance(value, str):
        return value
    raise ConfigError(f"{where} = {value!r} should be a {type(default).__name__} like {default!r}")


def dumps(config: dict) -> str:
    """The config as TOML (sections of scalars only: all minigan needs)."""
    lines = []
    if "preset" in config:
        lines.append(f"preset = {_toml_value(config['preset'])}\n")
    for section in DEFAULTS:
        lines.append(f"[{section}]")
        for key, value in config[section].items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
