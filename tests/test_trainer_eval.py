"""The trainer scores image runs every eval_every steps with minigan's classifier, logs and plots the scores,
sounds the class-coverage alarm, and puts the last scores in summary.json."""

import json

import numpy as np

import minigan.gan.trainer as trainer_module
import minigan.metrics as metrics
from minigan.config import resolve
from minigan.metrics.classifier import Classifier


def test_image_runs_are_scored_during_training(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (256, 1, 28, 28)).astype(np.float32)
    monkeypatch.setattr(trainer_module, "build_data", lambda config: (images, {"kind": "image"}))
    monkeypatch.setattr(trainer_module, "load_dataset", lambda *a, **k: (images[:128], np.zeros(128, np.int64)))
    calls = []

    def untrained(*args, **kwargs):
        calls.append(args)
        return Classifier(), {"trained_on": "nothing (test)"}

    monkeypatch.setattr(metrics, "load_or_train_classifier", untrained)
    config = resolve("mnist-dcgan", overrides={"train.steps": 4, "train.eval_every": 2, "train.batch_size": 16,
                                                "train.eval_samples": 64, "model.width": 8, "train.progress": False})
    trainer = trainer_module.Trainer(config, tmp_path / "run", log=lambda m: None)
    summary = trainer.train()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evaluations] == [2, 4]
    for r in evaluations:
        assert {"fid", "classifier_score", "classes_covered", "precision", "recall"} <= set(r["eval"])
        assert r["eval"]["samples"] == 64
    assert summary["evaluation"] == evaluations[-1]["eval"]  # the last evaluation, not a second one
    assert len(calls) == 1  # the classifier is loaded once per run
    assert (tmp_path / "run" / "evaluation.png").exists()
    if evaluations[0]["eval"]["classes_covered"] < 7.5:
        assert any(r.get("alarm") == "mode-collapse" for r in rows)
