"""The training loop: alternate discriminator and generator updates, log, sample, checkpoint.

One generator step is ``n_critic`` discriminator steps (each on a fresh real batch
and fresh fakes) followed by one generator step on the last fakes. Everything a
run needs to continue exactly is checkpointed atomically; a NaN or Inf stops the
run with the last good checkpoint kept.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .. import backend, optim
from ..autograd import no_grad
from ..config import dumps
from ..io import atomic_write
from ..data import DataLoader, load_dataset, mixture_modes, sample_mixture
from ..metrics import mixture_metrics
from ..tensor import Tensor, rand, randn
from . import plots
from .alarms import AlarmMonitor
from .checkpoint import load_checkpoint, save_checkpoint
from .losses import get_loss
from .models import build_models
from .penalties import clip_weights, gradient_penalty, r1_penalty
from .sampling import check_latent, latent_noise
from .techniques import HistoricalAverage, add_instance_noise, feature_matching_loss, instance_noise_std
from .unrolled import unrolled_generator_loss

MIXTURES = ("ring", "grid")


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN or Inf; the message names the step and the quantity."""


def build_data(config):
    """The training array (N, ...) float32 on the host, and facts about it for plots and metrics."""
    data = config["data"]
    name = data["dataset"]
    if name in MIXTURES:
        modes, std = mixture_modes(name)
        points = sample_mixture(modes, std, data["n_samples"], seed=config["train"]["seed"])
        return points, {"kind": "2d", "modes": modes, "std": std}
    if name in ("mnist", "fashion-mnist"):
        images, _ = load_dataset(name, data["split"], data["data_dir"] or None, download=data["download"])
        return images, {"kind": "image"}
    raise ValueError(f"unknown dataset {name!r}: choose ring, grid, mnist or fashion-mnist")


def build_optimizer(config, parameters, lr):
    o = config["optim"]
    name = o["name"]
    if name == "adam":
        return optim.Adam(parameters, lr=lr, betas=(o["beta1"], o["beta2"]), weight_decay=o["weight_decay"])
    if name == "rmsprop":
        return optim.RMSprop(parameters, lr=lr, momentum=o["momentum"], weight_decay=o["weight_decay"])
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=o["momentum"], weight_decay=o["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r}: choose adam, rmsprop or sgd")


def build_scheduler(config, optimizer, total_steps):
    """The learning-rate schedule of ``optim.lr_schedule``, stepped once per generator step."""
    name = config["optim"]["lr_schedule"]
    if name == "constant":
        return optim.LambdaLR(optimizer, lambda t: 1.0)
    if name == "linear":
        return optim.LinearLR(optimizer, total_steps)
    if name == "cosine":
        return optim.CosineAnnealingLR(optimizer, total_steps)
    raise ValueError(f"unknown lr_schedule {name!r}: choose constant, linear or cosine")


def _global_norm(parameters) -> float:
    total = 0.0
    for p in parameters:
        if p.grad is not None:
            xp = p.grad.get_namespace()
            total += float(xp.sum(p.grad.data * p.grad.data))
    return math.sqrt(total)


class Trainer:
    """A GAN run described by a resolved config, writing into ``out_dir``.

        trainer = Trainer(config, "runs/ring")
        summary = trainer.train()
    """

    def __init__(self, config, out_dir, resume=False, log=print):
        self.config, self.log = config, log
        self.out = Path(out_dir)
        train, model = config["train"], config["model"]
        backend.set_device(train["device"])
        backend.manual_seed(train["seed"])
        # Settings that cannot work are refused before the data is read (or downloaded).
        self.loss = get_loss(config["loss"]["name"], config["loss"]["label_smoothing"])
        self.pack = model["pack"]
        if train["batch_size"] % self.pack:
            raise ValueError(f"batch_size {train['batch_size']} must be a multiple of model.pack = {self.pack}")
        self.data, self.info = build_data(config)
        self.generator, self.discriminator = build_models(config)
        self.opt_g = build_optimizer(config, self.generator.parameters(), config["optim"]["lr_g"])
        self.opt_d = build_optimizer(config, self.discriminator.parameters(), config["optim"]["lr_d"])
        decay = config["optim"]["ema_decay"]
        self.ema = optim.EMA(self.generator, decay, warmup=True) if decay > 0 else None
        averaging = config["loss"]["historical_averaging"] > 0
        self.history = [HistoricalAverage(m) for m in (self.generator, self.discriminator)] if averaging else None
        if (config["loss"]["feature_matching"] or config["optim"]["unrolled_steps"]) and \
                not hasattr(self.discriminator, "features"):
            raise ValueError("feature matching and unrolling need one of minigan's discriminators")
        if config["loss"]["feature_matching"] and config["optim"]["unrolled_steps"]:
            raise ValueError("loss.feature_matching and optim.unrolled_steps each replace G's loss: choose one")
        self.loader = DataLoader(self.data, train["batch_size"], shuffle=True, drop_last=True, seed=train["seed"])
        n_critic = config["optim"]["n_critic"]
        self.steps_per_epoch = max(1, len(self.loader) // n_critic)
        self.total_steps = train["steps"] or train["epochs"] * self.steps_per_epoch
        if self.total_steps <= 0:
            raise ValueError("nothing to train: give train.steps > 0 or train.epochs > 0")
        self.schedulers = [build_scheduler(config, o, self.total_steps) for o in (self.opt_g, self.opt_d)]
        a = config["alarms"]
        self.monitor = AlarmMonitor(a["window"], a["vanishing_grad_norm"], a["d_wins_margin"], a["min_coverage"],
                                    a["oscillation_amplitude"], self.loss.uses_probabilities) if a["enabled"] else None
        self.alarms = []
        self.step = 0
        # Plots and evaluation draw from their own generator, so that they never change training.
        private = np.random.default_rng([train["seed"], 1])
        self.latent = check_latent(model)
        self.fixed_noise = latent_noise(private, 64, model)
        self.eval_noise_seed = [train["seed"], 2]
        if not resume and (self.checkpoint_paths() or (self.out / "metrics.jsonl").exists()):
            raise ValueError(
                f"{self.out} already holds a run; continue it with --resume, or choose a new --out"
            )
        for sub in ("checkpoints", "samples"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        if resume:
            self._resume()
        (self.out / "config.toml").write_text(dumps(config))

    # ------------------------------------------------------------ one step
    def _pack(self, x):
        """PacGAN: D judges ``pack`` samples at once, concatenated along features (images: along channels)."""
        return x if self.pack == 1 else x.reshape(x.shape[0] // self.pack, -1, *x.shape[2:])

    def _d(self, x):
        return self.discriminator(self._pack(x))

    def _noise(self, n):
        d = self.config["model"]["latent_dim"]
        return rand(n, d) * 2.0 - 1.0 if self.latent == "uniform" else randn(n, d)

    def _mean_output(self, scores):
        values = scores.numpy().astype(np.float64)
        if self.loss.uses_probabilities:  # report D's probability that the input is real
            values = 0.5 * (1.0 + np.tanh(0.5 * values))  # sigmoid, without overflow
        return float(values.mean())

    def train_step(self, batches) -> dict:
        """n_critic discriminator updates and one generator update; returns the step's numbers."""
        cfg_loss, cfg_optim = self.config["loss"], self.config["optim"]
        batch_size = self.config["train"]["batch_size"]
        n_critic = cfg_optim["n_critic"]
        sigma = instance_noise_std(cfg_loss["instance_noise"], self.step, self.total_steps)

        def noisy(x):  # instance noise: what D sees, real or fake, in both players' steps
            return add_instance_noise(x, sigma)

        for i in range(n_critic):
            real = next(batches)
            if i == n_critic - 1:
                fake = self.generator(self._noise(batch_size))  # kept, with its graph, for the G step
                fake_for_d = fake.detach()
            else:
                with no_grad():
                    fake_for_d = self.generator(self._noise(batch_size))
            d_real, d_fake = self._d(noisy(real)), self._d(noisy(fake_for_d))
            loss_d = self.loss.discriminator(d_real, d_fake)
            penalty = None
            if cfg_loss["penalty"] == "gp":
                penalty = gradient_penalty(self._d, real, fake_for_d, cfg_loss["penalty_weight"])
            elif cfg_loss["penalty"] == "r1":
                penalty = r1_penalty(self._d, real, cfg_loss["penalty_weight"])
            elif cfg_loss["penalty"] != "none":
                raise ValueError(f"unknown penalty {cfg_loss['penalty']!r}: choose none, gp or r1")
            if self.history is not None:
                averaging = cfg_loss["historical_averaging"] * self.history[1].penalty()
                penalty = averaging if penalty is None else penalty + averaging
            self.opt_d.zero_grad()
            (loss_d if penalty is None else loss_d + penalty).backward()
            grad_norm_d = self._clip(self.discriminator)
            self.opt_d.step()
            if cfg_loss["clip_value"] > 0:
                clip_weights(self.discriminator, cfg_loss["clip_value"])
            if self.history is not None:
                self.history[1].update()

        # The generator step: D's weights need no gradient, which saves computing them.
        d_parameters = list(self.discriminator.parameters())
        for p in d_parameters:
            p.requires_grad = False
        try:
            loss_g = self._generator_loss(noisy(real), noisy(fake))
            total_g = loss_g
            if self.history is not None:
                total_g = loss_g + cfg_loss["historical_averaging"] * self.history[0].penalty()
            self.opt_g.zero_grad()
            total_g.backward()
        finally:
            for p in d_parameters:
                p.requires_grad = True
        grad_norm_g = self._clip(self.generator)
        self.opt_g.step()
        if self.history is not None:
            self.history[0].update()
        if self.ema is not None:
            self.ema.update(self.generator)
        for scheduler in self.schedulers:
            scheduler.step()
        return {
            "d_loss": float(loss_d.item()),
            "g_loss": float(loss_g.item()),
            "penalty": float(penalty.item()) if penalty is not None else 0.0,
            "d_real": self._mean_output(d_real),
            "d_fake": self._mean_output(d_fake),
            "grad_norm_d": grad_norm_d,
            "grad_norm_g": grad_norm_g,
        }

    def _generator_loss(self, real, fake):
        """G's objective: fool D (the loss's generator side), match D's features, or fool D unrolled."""
        if self.config["loss"]["feature_matching"]:
            d = self.discriminator
            return feature_matching_loss(d.features(self._pack(real)), d.features(self._pack(fake)))
        k = self.config["optim"]["unrolled_steps"]
        if k:
            lr = self.config["optim"]["unrolled_lr"] or self.config["optim"]["lr_d"]
            return unrolled_generator_loss(self.discriminator, self.loss, real, fake, k, lr, self._pack, self.opt_d)
        return self.loss.generator(self._d(fake))

    def _clip(self, module) -> float:
        """Measure (and, if configured, clip) the gradient's global norm: the vanishing-gradient monitor."""
        o = self.config["optim"]
        params = list(module.parameters())
        if o["grad_clip_norm"] > 0:
            norm = optim.clip_grad_norm_(params, o["grad_clip_norm"])
        else:
            norm = _global_norm(params)
        if o["grad_clip_value"] > 0:
            optim.clip_grad_value_(params, o["grad_clip_value"])
        return norm

    # ------------------------------------------------------------ the loop
    def train(self) -> dict:
        """Train to ``total_steps``, logging each step; returns (and writes) summary.json's content."""
        train = self.config["train"]
        metrics_file = open(self.out / "metrics.jsonl", "a")
        progress = self._progress_bar()
        sample_every = train["sample_every"] or self.steps_per_epoch
        started, start_step = time.perf_counter(), self.step

        def batches():
            while True:
                yield from self.loader

        stream = batches()
        self.stopped_early = False
        try:
            while self.step < self.total_steps:
                spent = time.perf_counter() - started
                if train["max_seconds"] and self.step > start_step and spent >= train["max_seconds"]:
                    self.stopped_early = True  # the time budget is spent: checkpoint where we are
                    self.log(f"train.max_seconds = {train['max_seconds']} reached at step {self.step}; stopping")
                    metrics_file.flush()
                    self.save()
                    self.save_samples()
                    break
                t0 = time.perf_counter()
                numbers = self.train_step(stream)
                self.step += 1
                numbers = {"step": self.step, "epoch": self.loader.epoch, **numbers,
                           "sec_per_step": time.perf_counter() - t0}
                self._check_finite(numbers)
                metrics_file.write(json.dumps(numbers) + "\n")
                if self.monitor is not None:
                    self._sound(self.monitor.observe_step(numbers), metrics_file)
                if train["eval_every"] and self.step % train["eval_every"] == 0:
                    self._evaluate_into(metrics_file)
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(d=f"{numbers['d_loss']:.3f}", g=f"{numbers['g_loss']:.3f}")
                if self.step % train["checkpoint_every"] == 0 or self.step == self.total_steps:
                    metrics_file.flush()
                    self.save()
                if self.step % sample_every == 0 or self.step == self.total_steps:
                    self.save_samples()
        finally:
            metrics_file.close()
            if progress is not None:
                progress.close()
        plots.save_loss_plot(self.out / "metrics.jsonl", self.out / "losses.png")
        plots.save_eval_plot(self.out / "metrics.jsonl", self.out / "evaluation.png")
        elapsed = time.perf_counter() - started
        summary = self.summary(elapsed, self.step - start_step)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def _sound(self, alarms, metrics_file):
        for alarm in alarms:
            self.alarms.append(alarm.as_dict())
            metrics_file.write(json.dumps({"step": alarm.step, "alarm": alarm.kind, "message": alarm.message}) + "\n")
            self.log(f"warning: {alarm.message}")

    def evaluate(self) -> dict:
        """The run's quality now: mode coverage (2-D, on ``eval_samples`` samples) or, for images,
        FID, classifier score, classes covered and precision/recall from minigan's classifier
        (on at most 2,500 samples; the classifier is trained once on first use)."""
        n = self.config["train"]["eval_samples"]
        if self.info["kind"] == "2d":
            return mixture_metrics(self.sample(n), self.info["modes"], self.info["std"])
        from ..metrics import evaluate_images, load_or_train_classifier

        if not hasattr(self, "_classifier"):
            data = self.config["data"]
            self._classifier, _ = load_or_train_classifier(
                data["dataset"], None, data["data_dir"] or None, download=data["download"], log=self.log)
            self._real_images, _ = load_dataset(data["dataset"], "test", data["data_dir"] or None, download=data["download"])
        return evaluate_images(self.sample(min(n, 2500)), self._real_images, self._classifier)

    def _evaluate_into(self, metrics_file):
        metrics = self.evaluate()
        self._last_evaluation = (self.step, metrics)
        if not metrics:
            return
        metrics_file.write(json.dumps({"step": self.step, "eval": metrics}) + "\n")
        if self.monitor is not None and "modes_covered" in metrics:
            self._sound(self.monitor.observe_eval(self.step, metrics["modes_covered"], metrics["modes_total"]), metrics_file)
        elif self.monitor is not None and "classes_covered" in metrics:
            covered = self.monitor.observe_eval(self.step, metrics["classes_covered"], metrics["classes_total"], what="classes")
            self._sound(covered, metrics_file)

    def _progress_bar(self):
        if not self.config["train"]["progress"]:
            return None
        from tqdm import tqdm

        return tqdm(total=self.total_steps, initial=self.step, desc="training", unit="step", dynamic_ncols=True)

    def _check_finite(self, numbers, keys=("d_loss", "g_loss", "penalty", "grad_norm_d", "grad_norm_g")):
        for key in keys:
            if not math.isfinite(numbers[key]):
                last = self.latest_checkpoint()
                kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
                raise TrainingDiverged(
                    f"training stopped at step {numbers['step']}: {key} is {numbers[key]}; {kept}. "
                    "Lower the learning rates, add a gradient penalty or clipping, or resume with --resume."
                )

    def _check_weights(self):
        """Finite losses can still come with an update that made weights Inf: never checkpoint those."""
        for name, module in (("generator", self.generator), ("discriminator", self.discriminator)):
            for p in module.parameters():
                xp = p.get_namespace()
                if not bool(xp.all(xp.isfinite(p.data))):
                    self._check_finite({"step": self.step, f"{name} weights": float("nan")}, keys=(f"{name} weights",))

    # ------------------------------------------------------------ outputs
    def sampling_generator(self):
        """The EMA generator when enabled (smoother samples), else the trained one."""
        return self.ema.module if self.ema is not None else self.generator

    @no_grad()
    def sample(self, n, seed=None):
        """n samples as a NumPy array, in eval mode, from a private noise stream."""
        g = self.sampling_generator()
        was_training = g.training
        g.eval()
        rng = np.random.default_rng(self.eval_noise_seed if seed is None else seed)
        out = []
        for start in range(0, n, 1000):
            z = latent_noise(rng, min(1000, n - start), self.config["model"])
            out.append(g(Tensor(backend.asarray(z))).numpy())
        g.train(was_training)
        return np.concatenate(out)

    @no_grad()
    def save_samples(self):
        g = self.sampling_generator()
        was_training = g.training
        g.eval()
        samples = g(Tensor(backend.asarray(self.fixed_noise))).numpy()
        g.train(was_training)
        title = f"step {self.step}"
        if self.info["kind"] == "2d":
            many = self.sample(2000)
            plots.save_scatter(many, self.data[:2000], self.out / "samples" / f"step-{self.step:07d}.png",
                               self.info["modes"], title)
        else:
            plots.save_image_grid(samples, self.out / "samples" / f"step-{self.step:07d}.png", title=title)

    def summary(self, elapsed, steps_run) -> dict:
        rows = [r for r in plots.read_metrics(self.out / "metrics.jsonl") if "d_loss" in r]
        last = rows[-100:]
        summary = {
            "preset": self.config.get("preset"),
            "steps": self.step,
            "epochs": self.loader.epoch,
            "seconds": round(elapsed, 2),
            "sec_per_step": round(elapsed / steps_run, 5) if steps_run else None,
            "final": {k: float(np.mean([r[k] for r in last])) for k in ("d_loss", "g_loss", "d_real", "d_fake")} if last else {},
            "checkpoint": str(self.latest_checkpoint()),
        }
        if getattr(self, "stopped_early", False):
            summary["stopped"] = f"train.max_seconds = {self.config['train']['max_seconds']} reached"
        step, last = getattr(self, "_last_evaluation", (None, None))
        if self.info["kind"] == "2d":
            if step == self.step:
                summary["mode_coverage"] = last
            else:
                summary["mode_coverage"] = c = self.evaluate()
                if self.monitor is not None:  # the end-of-run evaluation's alarm is reported here, not in metrics.jsonl
                    for alarm in self.monitor.observe_eval(self.step, c["modes_covered"], c["modes_total"]):
                        self.alarms.append(alarm.as_dict())
                        self.log(f"warning: {alarm.message}")
        elif self.config["train"]["eval_every"]:  # image metrics need the classifier: only when asked for
            summary["evaluation"] = last if step == self.step else self.evaluate()
        summary["alarms"] = self.alarms
        return summary

    # ------------------------------------------------------------ checkpoints
    def checkpoint_paths(self):
        return sorted((self.out / "checkpoints").glob("step-*.npz"))

    def latest_checkpoint(self):
        paths = self.checkpoint_paths()
        return paths[-1] if paths else None

    def state(self) -> dict:
        return {
            "format": "minigan-checkpoint-1",
            "step": self.step,
            "config": self.config,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "historical_averages": [h.state_dict() for h in self.history] if self.history is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "rng": backend.get_rng_state(),
            "loader": self.loader.state_dict(),
        }

    def save(self):
        self._check_weights()
        path = self.out / "checkpoints" / f"step-{self.step:07d}.npz"
        save_checkpoint(path, self.state())
        for old in self.checkpoint_paths()[:-self.config["train"]["keep_checkpoints"]]:
            old.unlink()
        return path

    def _resume(self):
        path = self.latest_checkpoint()
        if path is None:
            self.log(f"--resume: no checkpoint in {self.out / 'checkpoints'}; starting from step 0")
            return
        state = load_checkpoint(path)
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None and state.get("ema"):
            self.ema.load_state_dict(state["ema"])
        if self.history is not None and state.get("historical_averages"):
            for history, saved in zip(self.history, state["historical_averages"]):
                history.load_state_dict(saved)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        backend.set_rng_state(state["rng"])
        self.loader.load_state_dict(state["loader"])
        self.step = int(state["step"])
        # Drop log lines of steps after the checkpoint: they will be run again.
        metrics = self.out / "metrics.jsonl"
        if metrics.exists():
            kept = [r for r in plots.read_metrics(metrics) if r.get("step", 0) <= self.step]
            with atomic_write(metrics, "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in kept))
        self.log(f"resumed from {path} at step {self.step}")
