"""Tiny torch models for the adapter's tests (the demo defines its own in modelboard.demo).

``BasicCNN`` is the seed's basic_cnn for 8x8x1 digits, layer for layer the twin of the Keras
``Conv2D(32, 3, padding="same", activation="relu") + MaxPooling2D(2)`` x3 [32, 64, 128],
``Flatten, Dense(64, relu), Dropout(0.3), Dense(10, softmax)``. It ends in ``nn.Softmax(dim=1)``
because the Keras twin's last Dense has ``activation="softmax"``: the adapter folds the Softmax
(and each ReLU) into the layer before it, so both canonical lists say ``dense`` with
``activation: softmax``. A torch net that returns logits (softmax inside the loss) differs
there, and only there. Train it with NLL of the log of its output (``probability_loss``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BasicCNN", "SharedTower", "SequenceClassifier", "probability_loss"]


class BasicCNN(nn.Module):
    """The seed's basic_cnn; constructor arguments are kept as attributes (reproducible)."""

    def __init__(
        self,
        num_classes: int = 10,
        channels: int = 1,
        size: int = 8,
        dense_units: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.channels = channels
        self.size = size
        self.dense_units = dense_units
        self.dropout = dropout
        layers: list[nn.Module] = []
        in_channels = channels
        for filters in (32, 64, 128):
            layers += [
                nn.Conv2d(in_channels, filters, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = filters
        side = size // 8
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * side * side, dense_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense_units, num_classes),
            nn.Softmax(dim=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SharedTower(nn.Module):
    """One Linear used twice (two paths), a ModuleDict of heads, and a tied weight."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.towers = nn.ModuleDict({"left": self.shared, "right": nn.Linear(6, 6)})
        self.heads = nn.ModuleDict({"a": nn.Linear(6, 3), "b": nn.Linear(6, 3, bias=False)})
        self.heads["b"].weight = self.heads["a"].weight  # tied parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.shared(x) + self.towers["right"](x) + self.towers["left"](x)
        return self.heads["a"](h) + self.heads["b"](h)


class SequenceClassifier(nn.Module):
    """Embedding, a 2-layer bidirectional LSTM and a Linear head."""

    def __init__(self, vocab: int = 20, hidden: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 5)
        self.lstm = nn.LSTM(5, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out[:, -1])


def probability_loss(probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax outputs: NLL of their clamped log."""
    return nn.functional.nll_loss(torch.log(probabilities.clamp_min(1e-7)), target)
