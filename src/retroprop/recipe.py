"""The lecture's setting as defaults, and the data preparation every command shares.

``LECTURE`` holds the example of the slides: a 4-4-3-3 network with sigmoid hidden
layers, softmax + cross-entropy, per-sample gradient descent with eta = 0.05, on Iris.
``prepare_data`` turns Iris or a user's CSV into a standardised, stratified split, the
same way for ``train``, ``explain``, ``verify``, the experiments and the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from retroprop.datasets import (
    Dataset,
    Standardizer,
    check_trainable,
    load_csv,
    load_iris,
    train_test_split,
)
from retroprop.engine.layers import Sequential
from retroprop.engine.network import mlp
from retroprop.errors import ConfigError, DataError
from retroprop.i18n import _
from retroprop.train import evaluate, predict


class Lecture(TypedDict):
    hidden: tuple[int, ...]
    activation: str
    lr: float
    epochs: int
    batch_size: int
    seed: int
    test_size: float


LECTURE: Lecture = {
    "hidden": (4, 3),
    "activation": "sigmoid",
    "lr": 0.05,
    "epochs": 100,
    "batch_size": 1,
    "seed": 1,
    "test_size": 0.2,
}
"""Defaults of every command: the lecture's network and training."""


@dataclass
class Split:
    """A dataset split and standardised (the standardisation fitted on train only).

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n, n_features), standardised
    y_train, y_test : ndarray of shape (n,)
    standardizer : Standardizer
    dataset : Dataset
        The raw data, for names.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    standardizer: Standardizer
    dataset: Dataset

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.dataset.class_names)

    @property
    def n_outputs(self) -> int:
        """One output per class; one for a regression target."""
        return 1 if self.dataset.task == "regression" else self.n_classes

    @property
    def X_train_raw(self) -> np.ndarray:
        """The training features back in the data's own units, ``(n, n_features)``."""
        mean, scale = self.standardizer.mean_, self.standardizer.scale_
        if mean is None or scale is None:  # not standardised
            return self.X_train
        return self.X_train * scale + mean


def load_dataset(
    data: str | os.PathLike | Dataset | None = None, target: str | None = None
) -> Dataset:
    """Iris when ``data`` is None, else the CSV file ``data`` with class column ``target``.

    With Iris, a ``target`` other than its class column ``"species"`` is an error
    rather than silently ignored. A ``Dataset`` (read with ``load_csv``'s options) is
    used as it is.
    """
    if isinstance(data, Dataset):
        return data
    if data is not None:
        return load_csv(data, target=target)
    ds = load_iris()
    if target is not None and target != ds.target_name:
        raise DataError(
            _(
                "the bundled Iris has no column named {target!r}; its columns are "
                "{columns} (--target needs --data FILE.csv)"
            ).format(
                target=target, columns=", ".join([*ds.feature_names, ds.target_name])
            )
        )
    return ds


def prepare_data(
    data: str | os.PathLike | Dataset | None = None,
    target: str | None = None,
    *,
    test_size: float = LECTURE["test_size"],
    seed: int = LECTURE["seed"],
    standardize: bool = True,
) -> Split:
    """Load, split (stratified, seeded) and standardise; see ``Split``."""
    ds = load_dataset(data, target)
    y = check_trainable(ds)
    X_tr, X_te, y_tr, y_te = train_test_split(
        ds.X,
        y,
        test_size=test_size,
        seed=seed,
        stratify=ds.task == "classification",
    )
    scaler = Standardizer().fit(X_tr)
    if not standardize:
        scaler = Standardizer(np.zeros(ds.X.shape[1]), np.ones(ds.X.shape[1]))
    return Split(scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te, scaler, ds)


def training_loss(split: Split) -> str:
    """The loss ``train`` uses for ``split``: ``"mse"`` for a regression target (one
    linear output), else ``"cross_entropy"`` (softmax outputs)."""
    return "mse" if split.dataset.task == "regression" else "cross_entropy"


def target_scaling(y_train: np.ndarray) -> tuple[float, float]:
    """``(mean, scale)`` that standardise a regression target, fitted on the training
    part only, as the features are: ``(y - mean) / scale``. A constant target is
    only centred (``scale`` 1.0)."""
    mean, scale = float(np.mean(y_train)), float(np.std(y_train))
    return mean, scale if scale > 0 else 1.0


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"4,3"`` -> ``(4, 3)``; ``""`` or ``"none"`` -> no hidden layer."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(
            _(
                "hidden layer sizes must be comma-separated integers like 4,3; got "
                "{text!r}"
            ).format(text=text)
        ) from None
    if any(s < 1 for s in sizes):
        raise ConfigError(
            _("hidden layer sizes must be positive, got {text!r}").format(text=text)
        )
    return sizes


def build_network(
    split: Split,
    hidden: Sequence[int] = LECTURE["hidden"],
    activation: str = LECTURE["activation"],
    *,
    seed: int = LECTURE["seed"],
    init: str = "torch",
    dtype=np.float64,
) -> Sequential:
    """``mlp([n_features, *hidden, n_classes])`` for the data of ``split``."""
    return mlp(
        [split.n_features, *hidden, split.n_outputs],
        activation,
        init=init,
        seed=seed,
        dtype=dtype,
    )


def network_factory(
    split: Split,
    hidden: Sequence[int] = LECTURE["hidden"],
    activation: str = LECTURE["activation"],
    *,
    init: str = "torch",
) -> Callable[[int], Sequential]:
    """``make_net(seed)`` -> ``build_network(split, hidden, activation, seed=seed)``:
    what the experiments train once per seed."""

    def make_net(seed: int) -> Sequential:
        return build_network(split, hidden, activation, seed=seed, init=init)

    return make_net


def describe(split: Split, hidden: Sequence[int], activation: str) -> str:
    """``"4-4-3-3 sigmoid network on iris"``: the network and the data, in words."""
    arch = "-".join(map(str, [split.n_features, *hidden, split.n_classes]))
    return _("{arch} {activation} network on {data}").format(
        arch=arch, activation=activation, data=split.dataset.name
    )


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> np.ndarray:
    """``m[i, j]``: samples of true class i predicted as j, shape (n_classes, n_classes)."""
    m = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def split_scores(net: Sequential, split: Split) -> dict[str, dict]:
    """What ``retroprop train`` reports of a trained network, per part of the split.

    Returns ``{"train": {...}, "test": {...}}``, each with ``accuracy``, ``loss``
    (cross-entropy, the mean over the samples), ``samples`` and ``confusion_matrix``
    (a list of rows, ``[i][j]``: true class i predicted as j).
    """
    out = {}
    for part, X, y in (
        ("train", split.X_train, split.y_train),
        ("test", split.X_test, split.y_test),
    ):
        loss, acc = evaluate(net, X, y)
        cm = confusion_matrix(y, predict(net, X), split.n_classes)
        out[part] = {
            "accuracy": acc,
            "loss": loss,
            "samples": len(y),
            "confusion_matrix": cm.tolist(),
        }
    return out
