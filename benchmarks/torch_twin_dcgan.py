"""Train the PyTorch twin of minigan's mnist-dcgan preset and score both with minigan's metrics.

    python benchmarks/torch_twin_dcgan.py --minigan-run runs/mnist-dcgan [--data-dir DIR] [--steps 3000]

The twin has the same architecture (benchmarks/twins.py, minibatch-std and packing included), the same
initialization (minigan's initial weights, copied), the same loss (non-saturating, with the
run's one-sided label smoothing), the same latent distribution (normal or uniform), the same
optimizer, batch size, data (the same batches, in the same order, from minigan's DataLoader),
number of steps and, when the run kept one, the same EMA of the generator's weights, which is
what both sample from. Both generators are then scored with minigan's classifier-based
metrics on the same latent vectors; the script prints both as JSON side by side.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from twins import copy_weights, torch_models, torch_step  # noqa: E402

import minigan  # noqa: E402
from minigan.gan.models import build_models  # noqa: E402
from minigan.gan.sampling import checkpoint_file, draw_samples, latent_noise, load_generator  # noqa: E402

# What the twin implements; a run with any other value of these keys is refused.
MIRRORED = {"loss.name": "non-saturating", "loss.penalty": "none",
            "loss.instance_noise": 0.0, "loss.feature_matching": False, "loss.historical_averaging": 0.0,
            "optim.name": "adam", "optim.n_critic": 1, "optim.lr_schedule": "constant", "optim.weight_decay": 0.0,
            "optim.unrolled_steps": 0, "optim.grad_clip_norm": 0.0, "optim.grad_clip_value": 0.0,
            "model.architecture": "dcgan", "model.d_dropout": 0.0, "model.spectral_norm": False}


def unmirrored(config) -> list:
    """'key = value' for each setting of the run that the twin does not implement (empty: it can mirror the run)."""
    def value(key, default):
        section, name = key.split(".")
        return config[section].get(name, default)
    return [f"{k} = {value(k, v)!r}" for k, v in MIRRORED.items() if value(k, v) != v]


def train_twin(torch, config, steps, data_dir=None):
    """(the PyTorch generator to sample from, training seconds): the run's recipe, trained with PyTorch."""
    # The twin starts from the weights minigan started from: rebuild them from the run's seed.
    minigan.manual_seed(config["train"]["seed"])
    g0, d0 = build_models(config)
    model = config["model"]
    pack = model.get("pack", 1)
    tg, td = torch_models(torch, "dcgan", model["latent_dim"], model["width"], minibatch_std=model.get("minibatch_std", 0),
                          pack=pack)
    copy_weights(torch, g0, tg)
    copy_weights(torch, d0, td)
    o = config["optim"]
    opt_g = torch.optim.Adam(tg.parameters(), o["lr_g"], (o["beta1"], o["beta2"]))
    opt_d = torch.optim.Adam(td.parameters(), o["lr_d"], (o["beta1"], o["beta2"]))
    data = config["data"]
    images, _ = minigan.data.load_dataset(data["dataset"], data["split"], data_dir or data["data_dir"] or None,
                                          download=data["download"])
    loader = minigan.data.DataLoader(images, config["train"]["batch_size"], seed=config["train"]["seed"])
    rng = np.random.default_rng([config["train"]["seed"], 99])
    smoothing = config["loss"].get("label_smoothing", 0.0)
    decay = o["ema_decay"]
    ema = copy.deepcopy(tg) if decay > 0 else None  # the same EMA of G's weights that minigan samples from
    started = time.perf_counter()
    step = 0
    while step < steps:
        for batch in loader:
            z = torch.tensor(latent_noise(rng, batch.shape[0], model))  # normal or uniform, as the run's
            torch_step(torch, tg, td, opt_g, opt_d, torch.tensor(batch.numpy()), z, smoothing, pack)
            if ema is not None:  # the trainer's minigan.optim.EMA: shadow = d shadow + (1 - d) w, buffers copied,
                d = min(decay, (2 + step) / (11 + step))  # with its warm-up d_t = min(decay, (1 + t) / (10 + t)), t = step + 1
                with torch.no_grad():
                    for shadow, p in zip(ema.parameters(), tg.parameters()):
                        shadow.mul_(d).add_(p, alpha=1 - d)
                    for shadow, b in zip(ema.buffers(), tg.buffers()):
                        shadow.copy_(b)
            step += 1
            if step == steps:
                break
    sampler = ema if ema is not None else tg
    sampler.eval()
    return sampler, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minigan-run", required=True, help="a finished mnist-dcgan run directory (or checkpoint)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=None, help="default: the minigan run's steps")
    parser.add_argument("--n", type=int, default=10_000, help="samples to score")
    args = parser.parse_args(argv)
    import torch

    path = checkpoint_file(args.minigan_run)
    ours, config, steps, _ = load_generator(path)
    steps = args.steps or steps
    differ = unmirrored(config)
    if differ:
        parser.error(f"the PyTorch twin mirrors the mnist-dcgan recipe only; this run has {', '.join(differ)}")
    sampler, seconds = train_twin(torch, config, steps, args.data_dir)
    with torch.no_grad():
        z = torch.tensor(latent_noise(np.random.default_rng(0), args.n, config["model"]))  # draw_samples' latents
        theirs = sampler(z).numpy()
    data = config["data"]
    classifier, info = minigan.metrics.load_or_train_classifier(data["dataset"], None, args.data_dir, log=print)
    real, _ = minigan.data.load_dataset(data["dataset"], "test", args.data_dir, download=data["download"])
    result = {
        "steps": steps,
        "classifier": info.get("trained_on"),
        "minigan": minigan.metrics.evaluate_images(draw_samples(ours, args.n, config["model"]), real, classifier),
        "pytorch": minigan.metrics.evaluate_images(theirs, real, classifier),
        "pytorch_training_seconds": round(seconds, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
