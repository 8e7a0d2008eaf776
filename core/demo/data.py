"""The demo's data: scikit-learn's bundled digits (8x8 grey images, 10 classes), no download."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DigitsData", "load_digits_data", "AUGMENTATION_SETTINGS"]

#: The seed paper's augmentations, scaled to 8x8 images (its 90 degree rotation and 0.2 zoom
#: destroy digits this small: a 6 turned by 90 degrees is no longer a 6).
AUGMENTATION_SETTINGS: dict[str, Any] = {
    "featurewise_center": True,
    "featurewise_std_normalization": True,
    "rotation_range": 10.0,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.1,
}


@dataclass
class DigitsData:
    """Train and validation splits, channels-last, scaled to [0, 1], labels as integers.

    ``mean`` and ``std`` are the training set's pixel statistics (featurewise normalisation).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str] = field(default_factory=list)
    split_seed: int = 0

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def mean(self) -> float:
        """Mean pixel value of the training images."""
        return float(self.x_train.mean())

    @property
    def std(self) -> float:
        """Standard deviation of the training images' pixels."""
        return float(self.x_train.std())

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        """Integer labels as one-hot rows (the seed's categorical_crossentropy targets)."""
        return np.eye(self.num_classes, dtype=np.float32)[y]

    def channels_first(self, x: np.ndarray) -> np.ndarray:
        """``(n, h, w, c)`` -> ``(n, c, h, w)`` for PyTorch, contiguous."""
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def load_digits_data(seed: int = 0, val_fraction: float = 0.2) -> DigitsData:
    """Load scikit-learn's digits as ``(n, 8, 8, 1)`` float32 in [0, 1]; stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., np.newaxis]
    y = digits.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=val_fraction, stratify=y, random_state=seed
    )
    return DigitsData(
        x_train=np.ascontiguousarray(x_train),
        y_train=y_train,
        x_val=np.ascontiguousarray(x_val),
        y_val=y_val,
        class_names=[str(n) for n in digits.target_names],
        split_seed=seed,
    )
