"""The Keras 3 adapter (TensorFlow and torch backends).

Loaded through the ``modelboard`` entry point; the module's attributes are the hooks of
:mod:`modelboard.adapters.keras.plugin`. Importing it imports neither keras nor tensorflow.
"""

from modelboard.adapters.keras.demo import (  # noqa: F401  (the demo hooks)
    modelboard_demo_models,
    modelboard_demo_session,
    modelboard_demo_train,
)
from modelboard.adapters.keras.plugin import *  # noqa: F401,F403
from modelboard.adapters.keras.plugin import __all__ as __all__
