"""The demo's grid: the seed paper's (batch_size, epochs, optimizer) settings, laptop-sized."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Setting", "PAPER_GRID", "QUICK_GRID", "DEFAULT_SETTINGS", "LEARNING_RATES", "select"]

#: The default learning rates of Keras 2.2, which the seed paper used (Keras 3 lowered
#: Adagrad's to 0.001, at which 10 epochs stay at chance on digits); the torch runs use the same.
LEARNING_RATES = {"adam": 1e-3, "sgd": 1e-2, "adagrad": 1e-2}


@dataclass(frozen=True)
class Setting:
    """One point of the grid, trained once in each framework.

    ``paper`` names the seed's call it scales down (``make_cnns(32, 5, 'adam')``).
    """

    model: str
    batch_size: int
    epochs: int
    optimizer: str
    paper: str = ""

    @property
    def learning_rate(self) -> float:
        """The optimizer's learning rate (Keras 2.2's default for it)."""
        return LEARNING_RATES[self.optimizer]

    @property
    def label(self) -> str:
        """A short name: ``basic_cnn b32 e5 adam``."""
        return f"{self.model} b{self.batch_size} e{self.epochs} {self.optimizer}"


#: The paper's twelve calls, in an order that puts a basic_cnn and a vgg_cnn first. Epochs are
#: about a fifth of the paper's and its batch sizes of 2 and 4 become 8 and 16: digits has 1,437
#: training images of 8x8 pixels, the paper's art set 7,721 of 100x100.
PAPER_GRID: tuple[Setting, ...] = (
    Setting("basic_cnn", 32, 5, "adam", "make_cnns(32, 5, 'adam')"),
    Setting("vgg_cnn", 32, 5, "adam", "make_vggs(32, 5, 'adam')"),
    Setting("basic_cnn", 16, 4, "sgd", "make_cnns(4, 10, 'sgd')"),
    Setting("basic_cnn", 64, 6, "adam", "make_cnns(64, 30, 'adam')"),
    Setting("basic_cnn", 64, 10, "adagrad", "make_cnns(64, 50, 'adagrad')"),
    Setting("vgg_cnn", 64, 4, "sgd", "make_vggs(64, 10, 'sgd')"),
    Setting("basic_cnn", 8, 4, "sgd", "make_cnns(2, 20, 'sgd')"),
    Setting("basic_cnn", 32, 4, "sgd", "make_cnns(32, 20, 'sgd')"),
    Setting("vgg_cnn", 32, 3, "adam", "make_vggs(32, 15, 'adam')"),
    Setting("vgg_cnn", 32, 4, "adagrad", "make_vggs(32, 20, 'adagrad')"),
    Setting("vgg_cnn", 32, 6, "adam", "make_vggs(32, 30, 'adam')"),
    Setting("vgg_cnn", 32, 10, "adam", "make_vggs(32, 50, 'adam')"),
)

#: ``--quick``: one basic_cnn and one vgg_cnn per framework, 2 and 1 epochs.
QUICK_GRID: tuple[Setting, ...] = (
    Setting("basic_cnn", 32, 2, "adam", "make_cnns(32, 5, 'adam')"),
    Setting("vgg_cnn", 32, 1, "adam", "make_vggs(32, 5, 'adam')"),
)

#: How many settings of ``PAPER_GRID`` the default demo trains (in each framework).
DEFAULT_SETTINGS = 6


def select(quick: bool, runs: int | None) -> list[Setting]:
    """The settings to train: ``runs`` of them (default: all of quick, or ``DEFAULT_SETTINGS``).

    Quick mode repeats its two settings when asked for more.
    """
    grid = QUICK_GRID if quick else PAPER_GRID
    count = runs if runs is not None else (len(QUICK_GRID) if quick else DEFAULT_SETTINGS)
    if count < 1:
        raise ValueError(f"--runs must be at least 1, got {count}")
    if not quick and count > len(grid):
        raise ValueError(f"--runs can be at most {len(grid)}: the seed paper's grid has that many")
    return [grid[i % len(grid)] for i in range(count)]
