"""Scripts that make the ui tests' store: tiny real Keras and PyTorch runs on digits, each in a
process of its own (TensorFlow and torch in one process can crash), and a run that keeps
logging until told to stop (the live page's test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DIGITS = """
import numpy as np
from sklearn.datasets import load_digits
digits = load_digits()
x = (digits.images / 16.0).astype("float32")
y = digits.target.astype("int64")
x_train, y_train, x_val, y_val = x[:600], y[:600], x[1500:], y[1500:]
"""

KERAS_SCRIPT = (
    DIGITS
    + """
import sys, keras, modelboard as mb
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((8, 8, 1)),
    keras.layers.Conv2D(4, 3, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
], name="tiny_cnn")
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
data = mb.Data("digits", train=(x_train[..., None], y_train), val=(x_val[..., None], y_val))
tracker = mb.Tracker(sys.argv[1])
with tracker.track(model, name="keras_tiny", data=data, tags={"kind": "real"}) as run:
    model.fit(x_train[..., None], y_train, validation_data=(x_val[..., None], y_val),
              epochs=3, batch_size=64, verbose=0)
    run.evaluate(x_val[..., None], y_val)
print(run.id)
"""
)

TORCH_SCRIPT = (
    DIGITS
    + """
import sys, torch, modelboard as mb
torch.manual_seed(0)
nn = torch.nn
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
xt, yt = torch.tensor(x_train[:, None]), torch.tensor(y_train)
xv, yv = torch.tensor(x_val[:, None]), torch.tensor(y_val)
data = mb.Data("digits", train=(x_train[:, None], y_train), val=(x_val[:, None], y_val))
tracker = mb.Tracker(sys.argv[1])
with tracker.track(model, name="torch_tiny", optimizer=optimizer, example_input=xt[:1],
                   data=data, tags={"kind": "real"}) as run:
    for epoch in range(3):
        model.train()
        for start in range(0, len(xt), 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[start:start + 64]), yt[start:start + 64])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            out, val_out = model(xt), model(xv)
            run.log(epoch=epoch, loss=nn.functional.cross_entropy(out, yt).item(),
                    val_loss=nn.functional.cross_entropy(val_out, yv).item(),
                    accuracy=(out.argmax(1) == yt).float().mean().item(),
                    val_accuracy=(val_out.argmax(1) == yv).float().mean().item(),
                    lr=optimizer.param_groups[0]["lr"])
    run.evaluate(xv, yv)
print(run.id)
"""
)

#: Logs a point every 0.2 s until the file argv[2] exists (at most 3 minutes), then finishes.
LIVE_SCRIPT = """
import math, os, sys, time, modelboard as mb
tracker = mb.Tracker(sys.argv[1])
run = tracker.start_run("live_run")
print(run.id, flush=True)
step = 0
deadline = time.time() + 180
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    run.log(step=step, loss=1.0 / (1 + step), val_loss=1.2 / (1 + step))
    step += 1
    time.sleep(0.2)
run.finish()
"""


def track(script: str, store: Path) -> str:
    """Run ``script`` on ``store`` in a new process; the run id it prints."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(store)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def start_logging(store: Path, stop_file: Path) -> tuple[subprocess.Popen[str], str]:
    """A process that logs into a running run until ``stop_file`` appears; and its run id."""
    process = subprocess.Popen(
        [sys.executable, "-c", LIVE_SCRIPT, str(store), str(stop_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line, process.stderr.read() if process.stderr else "no run id"
    return process, line


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["MODELBOARD_SILENT"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env
