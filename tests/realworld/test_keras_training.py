"""Real Keras training scripts, small: what modelboard records against Keras's own numbers.

keras-io's ``mnist_convnet``, the GAN and the custom ``train_step`` of "Customizing what happens
in fit()", a tf.data pipeline with EarlyStopping and LearningRateScheduler, ReduceLROnPlateau,
gradient clipping, mixed precision, and a subclassed model built by ``fit``. Data are made in
the test; models and epochs are tiny.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

L = keras.layers
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the script uses tf.GradientTape / tf.data"
)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _training(stored: Any) -> list[Any]:
    return [g for g in stored.gradients if g.source == "training"]


def _paths(variables: Any) -> list[str]:
    return [v.path for v in variables]


# -- keras-io mnist_convnet -----------------------------------------------------------------


def test_mnist_convnet_records_adam_its_rate_and_keras_parameter_count(tracker: Any) -> None:
    rng = _rng()
    x = rng.random((40, 28, 28, 1), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 40), 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    run = tracker.track(model)
    model.fit(x, y, batch_size=16, epochs=1, validation_split=0.2, verbose=0)
    run.finish()

    network = tracker.get(run.id).network
    assert network.total_params == model.count_params()
    assert network.trainable_params == sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert [o.key for o in network.optimizers] == ["optimizer"]
    adam = network.optimizer
    assert (adam.name, adam.class_name) == ("adam", "Adam")
    assert adam.learning_rate == pytest.approx(float(model.optimizer.learning_rate))
    assert adam.learning_rate == pytest.approx(0.001)
    assert adam.learning_rate_last == pytest.approx(0.001)
    assert [layer.type for layer in network.layers] == [type(la).__name__ for la in model.layers]
    assert [layer.module for layer in network.layers] == [
        type(la).__module__ for la in model.layers
    ]
    assert {layer.depth for layer in network.layers} == {0}
    assert network.batch_size == 16 and network.epochs_planned == 1 and network.epochs_run == 1
    assert network.unknown == {}


# -- the GAN of "Customizing what happens in fit()" ---------------------------------------------

LATENT = 4


def _gan_class() -> Any:
    import tensorflow as tf

    ops = keras.ops

    class GAN(keras.Model):
        def __init__(self, discriminator: Any, generator: Any, latent_dim: int) -> None:
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337)

        def compile(self, d_optimizer: Any, g_optimizer: Any, loss_fn: Any) -> None:
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images: Any) -> dict[str, Any]:
            if isinstance(real_images, tuple):
                real_images = real_images[0]
            batch_size = ops.shape(real_images)[0]
            z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            combined = ops.concatenate([self.generator(z), real_images], axis=0)
            labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], 0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            pairs = zip(grads, self.discriminator.trainable_weights, strict=True)
            self.d_optimizer.apply_gradients(pairs)
            z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            misleading = ops.zeros((batch_size, 1))
            with tf.GradientTape() as tape:
                g_loss = self.loss_fn(misleading, self.discriminator(self.generator(z)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
            return {"d_loss": d_loss, "g_loss": g_loss}

    return GAN


@TF_ONLY
def test_gan_records_both_optimizers_with_their_own_gradients(tracker: Any) -> None:
    discriminator = keras.Sequential(
        [keras.Input((8,)), L.Dense(6, activation="leaky_relu"), L.Dense(1)], name="discriminator"
    )
    generator = keras.Sequential(
        [keras.Input((LATENT,)), L.Dense(5, activation="relu"), L.Dense(8)], name="generator"
    )
    gan = _gan_class()(discriminator, generator, LATENT)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.SGD(learning_rate=0.002),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    run = tracker.track(gan, gradients_every=1)
    images = _rng().random((48, 8), dtype=np.float32)
    gan.fit(images, batch_size=16, epochs=1, verbose=0)  # 3 steps of each optimizer
    run.finish()

    stored = tracker.get(run.id)
    network = stored.network
    assert network.total_params == discriminator.count_params() + generator.count_params()
    assert network.trainable_params == network.total_params
    by_key = {o.key: o for o in network.optimizers}
    assert list(by_key) == ["d_optimizer", "g_optimizer"]  # not the rmsprop that never stepped
    assert int(gan.optimizer.iterations.numpy()) == 0
    assert network.optimizer is not None and network.optimizer.key == "d_optimizer"
    assert (by_key["d_optimizer"].name, by_key["d_optimizer"].class_name) == ("adam", "Adam")
    assert (by_key["g_optimizer"].name, by_key["g_optimizer"].class_name) == ("sgd", "SGD")
    assert by_key["d_optimizer"].learning_rate == pytest.approx(0.0003)
    assert by_key["g_optimizer"].learning_rate_last == pytest.approx(0.002)
    assert "optimizer" not in network.unknown and "total_params" not in network.unknown

    captured = _training(stored)
    d_steps = [g.step for g in captured if g.optimizer == "d_optimizer"]
    g_steps = [g.step for g in captured if g.optimizer == "g_optimizer"]
    assert d_steps == [0, 1, 2] == g_steps
    for record in captured:
        owner = discriminator if record.optimizer == "d_optimizer" else generator
        assert [p.name for p in record.parameters] == _paths(owner.trainable_weights)
        assert record.global_norm > 0
    metrics = stored.training.metrics
    assert metrics["learning_rate_d_optimizer"].values == pytest.approx([0.0003])
    assert metrics["learning_rate_g_optimizer"].values == pytest.approx([0.002])


# -- custom train_step with the standard optimizer ---------------------------------------------


@TF_ONLY
def test_custom_train_step_with_model_optimizer_is_recorded_and_captured(tracker: Any) -> None:
    import tensorflow as tf

    class CustomModel(keras.Model):
        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(gradients, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(6,))
    model = CustomModel(inputs, L.Dense(1)(L.Dense(4, activation="relu")(inputs)))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = _rng()
    x, y = rng.random((40, 6), dtype=np.float32), rng.random((40, 1), dtype=np.float32)
    run = tracker.track(model, gradients_every=2)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 10 optimizer steps
    run.finish()

    stored = tracker.get(run.id)
    network = stored.network
    assert [(o.key, o.name) for o in network.optimizers] == [("optimizer", "adam")]
    assert network.optimizer.learning_rate == pytest.approx(0.001)
    assert network.total_params == model.count_params()
    captured = _training(stored)
    assert [g.step for g in captured] == [0, 2, 4, 6, 8]
    assert {g.optimizer for g in captured} == {"optimizer"}
    assert int(model.optimizer.iterations.numpy()) == 10


# -- tf.data with EarlyStopping and LearningRateScheduler; ReduceLROnPlateau -------------------


def _regressor(name: str) -> Any:
    return keras.Sequential(
        [keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)], name=name
    )


def _never_improving_stop(patience: int) -> Any:
    """EarlyStopping that counts only the first epoch as an improvement: it stops after
    ``patience + 1`` epochs whatever the loss does."""
    return keras.callbacks.EarlyStopping(monitor="loss", patience=patience, min_delta=1e9)


@TF_ONLY
def test_tf_data_with_early_stopping_and_learning_rate_scheduler(tracker: Any) -> None:
    import tensorflow as tf

    rng = _rng()
    x, y = rng.random((64, 4), dtype=np.float32), rng.random((64, 1), dtype=np.float32)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(16)
    val = tf.data.Dataset.from_tensor_slices((x[:16], y[:16])).batch(16)

    def halve_after_two(epoch: int, lr: float) -> float:
        return lr if epoch < 2 else lr * 0.5

    model = _regressor("tfdata")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    run = tracker.track(model)
    scheduler = keras.callbacks.LearningRateScheduler(halve_after_two)
    history = model.fit(
        train,
        validation_data=val,
        epochs=30,
        callbacks=[_never_improving_stop(4), scheduler],
        verbose=0,
    )
    run.finish()

    stored = tracker.get(run.id)
    network = stored.network
    epochs_run = len(history.history["loss"])
    assert epochs_run == 5
    assert (network.epochs_run, network.epochs_planned) == (epochs_run, 30)
    assert network.early_stopping["stopped"] is True
    assert network.batch_size == 16 and network.steps_per_epoch == 4
    optimizer = network.optimizer
    assert optimizer.scheduler["name"] == "LearningRateScheduler"
    assert optimizer.scheduler["kind"] == "callback"
    assert optimizer.scheduler["config"]["schedule"].endswith("halve_after_two")
    assert optimizer.learning_rate == pytest.approx(0.01)
    assert optimizer.learning_rate_last == pytest.approx(float(model.optimizer.learning_rate))
    logged = stored.training.metrics["learning_rate"].values
    assert logged == pytest.approx(history.history["learning_rate"])
    assert logged == pytest.approx([0.01, 0.01, 0.005, 0.0025, 0.00125])


def test_reduce_lr_on_plateau_records_the_last_rate_applied(tracker: Any) -> None:
    rng = _rng()
    x, y = rng.random((32, 4), dtype=np.float32), rng.random((32, 1), dtype=np.float32)
    model = _regressor("plateau")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mse")
    run = tracker.track(model, gradients_every=0)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=1e9
    )
    model.fit(x, y, batch_size=16, epochs=3, callbacks=[plateau], verbose=0)
    run.finish()

    optimizer = tracker.get(run.id).network.optimizer
    assert optimizer.scheduler["name"] == "ReduceLROnPlateau"
    assert optimizer.scheduler["config"]["factor"] == 0.5
    assert optimizer.learning_rate == pytest.approx(0.1)
    # reduced after epochs 1 and 2: epoch 2 ran at 0.05; the 0.025 set after it never ran
    now = float(model.optimizer.learning_rate)
    assert now == pytest.approx(0.025)
    assert optimizer.learning_rate_last == pytest.approx(now / 0.5)


def test_schedule_object_is_the_scheduler_and_its_step_zero_is_the_initial_rate(
    tracker: Any,
) -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = _regressor("decay")
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    run = tracker.track(model, gradients_every=0)
    rng = _rng()
    model.fit(rng.random((48, 4)), rng.random((48, 1)), batch_size=16, epochs=1, verbose=0)
    run.finish()

    optimizer = tracker.get(run.id).network.optimizer
    assert optimizer.scheduler["name"] == "ExponentialDecay"
    assert optimizer.learning_rate == pytest.approx(float(schedule(0)))
    steps = int(model.optimizer.iterations.numpy())
    assert optimizer.learning_rate_last == pytest.approx(float(schedule(steps - 1)))


# -- clipping and mixed precision ----------------------------------------------------------------


def _reference_gradients(model: Any, x: Any, y: Any, loss: Any) -> dict[str, np.ndarray]:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss(tf.constant(y), model(x, training=True))
    grads = tape.gradient(value, model.trainable_variables)
    pairs = zip(model.trainable_variables, grads, strict=True)
    return {v.path: np.asarray(g, dtype=np.float64) for v, g in pairs}


def _norm(arrays: Any) -> float:
    return float(np.sqrt(sum(np.sum(a * a) for a in arrays)))


def _scaled_mse(y_true: Any, y_pred: Any) -> Any:
    return 1e5 * keras.ops.mean(keras.ops.square(y_true - y_pred))


@TF_ONLY
@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm"])
def test_clipping_records_produced_gradients_and_the_applied_norm(tracker: Any, clip: str) -> None:
    rng = _rng()
    x, y = rng.random((16, 4), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    model = _regressor("clipped")
    model.compile(optimizer=keras.optimizers.SGD(0.001, **{clip: 1.0}), loss=_scaled_mse)
    expected = _reference_gradients(model, x, y, _scaled_mse)
    run = tracker.track(model, gradients_every=1)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    run.finish()

    stored = tracker.get(run.id)
    (record,) = _training(stored)
    produced = _norm(expected.values())
    assert produced > 1e3
    assert record.global_norm == pytest.approx(produced, rel=1e-4)
    assert record.flags["exploding"] is True and stored.run.flags["gradients_exploding"] is True
    if clip == "clipnorm":  # each tensor clipped to norm 1
        applied = _norm([g * min(1.0, 1.0 / np.linalg.norm(g)) for g in expected.values()])
    else:
        applied = 1.0
    assert record.applied_global_norm == pytest.approx(applied, rel=1e-4)
    assert record.clipped is True


@TF_ONLY
def test_loss_scale_factor_is_divided_out_of_the_recorded_gradients(tracker: Any) -> None:
    rng = _rng()
    x, y = rng.random((16, 4), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    model = _regressor("loss_scaled")
    model.compile(optimizer=keras.optimizers.SGD(0.01, loss_scale_factor=1024.0), loss="mse")
    expected = _reference_gradients(model, x, y, keras.losses.MeanSquaredError())
    run = tracker.track(model, gradients_every=1)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    run.finish()
    (record,) = _training(tracker.get(run.id))
    assert record.global_norm == pytest.approx(_norm(expected.values()), rel=1e-4)
    assert record.scaled is False


def test_unclipped_gradients_have_no_applied_norm(tracker: Any) -> None:
    model = _regressor("unclipped")
    model.compile(optimizer="sgd", loss="mse")
    run = tracker.track(model, gradients_every=1)
    rng = _rng()
    model.fit(rng.random((16, 4)), rng.random((16, 1)), batch_size=16, verbose=0)
    run.finish()
    (record,) = _training(tracker.get(run.id))
    assert record.applied_global_norm is None and record.clipped is None


@TF_ONLY
def test_mixed_precision_records_unscaled_gradients_of_the_inner_adam(tracker: Any) -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential(
            [
                keras.Input((4,)),
                L.Dense(8, activation="relu"),
                L.Dense(1),
                L.Activation("linear", dtype="float32"),
            ],
            name="mixed",
        )
        model.compile(optimizer="adam", loss="mse")
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        rng = _rng()
        x, y = rng.random((16, 4), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
        expected = _reference_gradients(model, x, y, keras.losses.MeanSquaredError())
        run = tracker.track(model, gradients_every=1)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        run.finish()
    finally:
        keras.mixed_precision.set_global_policy("float32")

    stored = tracker.get(run.id)
    optimizer = stored.network.optimizer
    assert (optimizer.name, optimizer.class_name) == ("adam", "Adam")
    assert optimizer.config["wrapper"] == "LossScaleOptimizer"
    first = min(_training(stored), key=lambda g: g.step)
    assert first.step == 0 and first.scaled is False
    scale = float(model.optimizer.dynamic_scale.numpy())
    assert scale > 100  # what apply would have seen, had the scaled gradients been recorded
    assert first.global_norm == pytest.approx(_norm(expected.values()), rel=2e-2)


# -- models built late, optimizers not found, gradients_every -----------------------------------


class _TwoDense(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="two_dense")
        self.hidden = L.Dense(5, activation="relu")
        self.out = L.Dense(1)

    def call(self, inputs: Any) -> Any:
        return self.out(self.hidden(inputs))


def test_unbuilt_subclassed_model_parameters_are_unknown_until_fit_builds_it(
    tracker: Any,
) -> None:
    model = _TwoDense()
    model.compile(optimizer="adam", loss="mse")
    with pytest.warns(RuntimeWarning, match="total_params"):
        run = tracker.track(model, gradients_every=1)
    assert "total_params" in run.network.unknown and "layers" in run.network.unknown
    assert "not built" in run.network.unknown["total_params"]
    rng = _rng()
    model.fit(rng.random((16, 3)), rng.random((16, 1)), batch_size=8, epochs=1, verbose=0)
    run.finish()

    stored = tracker.get(run.id)
    network = stored.network
    assert network.total_params == model.count_params() == 3 * 5 + 5 + 5 + 1
    assert "total_params" not in network.unknown and "layers" not in network.unknown
    assert [g.step for g in _training(stored)] == [0, 1]


@TF_ONLY
def test_an_optimizer_that_cannot_be_found_is_unknown_not_the_default(tracker: Any) -> None:
    import tensorflow as tf

    elsewhere = keras.optimizers.SGD(0.01)

    class OutsideOptimizer(keras.Model):
        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            with tf.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            elsewhere.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            return {"loss": loss}

    inputs = keras.Input((4,))
    model = OutsideOptimizer(inputs, L.Dense(1)(inputs))
    model.compile(loss="mse")  # leaves Keras's default rmsprop, never used
    run = tracker.track(model)
    rng = _rng()
    with pytest.warns(RuntimeWarning, match="optimizer"):
        model.fit(rng.random((16, 4)), rng.random((16, 1)), batch_size=8, verbose=0)
    run.finish()

    network = tracker.get(run.id).network
    assert int(model.optimizer.iterations.numpy()) == 0 < int(elsewhere.iterations.numpy())
    assert network.optimizer is None and network.optimizers == []
    assert "stepped" in network.unknown["optimizer"]


@pytest.mark.parametrize("every", [None, 0])
def test_gradients_every_none_is_the_default_and_zero_is_off(tracker: Any, every: Any) -> None:
    model = _regressor("every")
    model.compile(optimizer="sgd", loss="mse")
    run = tracker.track(model, gradients_every=every)
    rng = _rng()
    model.fit(rng.random((32, 4)), rng.random((32, 1)), batch_size=8, verbose=0)
    run.finish()
    steps = [g.step for g in _training(tracker.get(run.id))]
    assert steps == ([0] if every is None else [])  # default 50: only step 0 of 4
