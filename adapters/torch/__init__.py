"""The PyTorch adapter: ``tracker.track(module, optimizer=opt, example_input=x)``.

Options of ``track`` read here: ``optimizer``, ``scheduler``, ``example_input``,
``gradients_every`` (default ``modelboard.gradients.DEFAULT_GRADIENTS_EVERY``; 0 turns capture
off), ``loss``, ``batch_size``, ``epochs``, ``architecture``, ``init_args``, ``factory`` and
``output`` (``auto``, ``logits`` or ``raw``: how predictions become probabilities).
"""

from modelboard.adapters.torch.demo import (  # noqa: F401  (the demo hooks)
    modelboard_demo_models,
    modelboard_demo_session,
    modelboard_demo_train,
)
from modelboard.adapters.torch.plugin import *  # noqa: F401,F403
from modelboard.adapters.torch.plugin import __all__  # noqa: F401
