"""The PyTorch adapter. Filled by the PyTorch issue."""

from modelboard.adapters.torch.plugin import *  # noqa: F401,F403
