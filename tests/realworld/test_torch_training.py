"""Real PyTorch training loops, small: what modelboard records about gradients and optimizers
must equal torch's own numbers (mnist's Net with Adadelta and StepLR, clipping, a GAN with two
optimizers, no optimizer given, gradient accumulation, AMP, torch.compile, DataParallel)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import modelboard as mb  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _few_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[mb.Tracker]:
    with mb.Tracker(tmp_path / "store", plugin_manager=mb.create_plugin_manager()) as t:
        yield t


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-30)


def _global_optimizer_hooks() -> int:
    from torch.optim import optimizer as optim_module

    return len(optim_module._global_optimizer_pre_hooks) + len(
        optim_module._global_optimizer_post_hooks
    )


def _by_hand(params: list[torch.Tensor]) -> float:
    """The global L2 norm of the parameters' current .grad, in double precision."""
    return math.sqrt(sum(p.grad.double().pow(2).sum().item() for p in params))


class Net(nn.Module):
    """pytorch/examples mnist/main.py's Net, for 12x12 images (functional relu/pool/flatten)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def _digits(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 12, 12, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_mnist_adadelta_steplr(tracker: mb.Tracker) -> None:
    """mnist/main.py: Adadelta(lr=1.0), StepLR(step_size=1, gamma=0.7), scheduler not given."""
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    run = tracker.track(model, optimizer=optimizer, gradients_every=2)
    x, y = _digits()
    steps_per_epoch = 2
    for epoch in range(3):
        model.train()
        for batch in range(steps_per_epoch):
            xb, yb = x[batch * 16 : (batch + 1) * 16], y[batch * 16 : (batch + 1) * 16]
            optimizer.zero_grad()
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
        scheduler.step()
        run.log(epoch=epoch, loss=loss.item())
    run.finish()
    stored = tracker.get(run.id)
    record = stored.network.optimizer
    assert record.name == "adadelta" and record.class_name == "Adadelta"
    assert [o.key for o in stored.network.optimizers] == ["optimizer"]
    assert record.learning_rate == 1.0
    assert record.learning_rate_last == pytest.approx(optimizer.param_groups[0]["lr"])
    assert record.learning_rate_last == pytest.approx(0.7**3)
    assert record.scheduler is not None and record.scheduler["name"] == "StepLR"  # found
    assert record.scheduler["last_lr"] == [pytest.approx(scheduler.get_last_lr()[0])]
    # the schedule as a metric: the first step and each step where the rate changed
    series = stored.training.metrics["learning_rate"]
    assert series.steps == [0, 2, 4]
    assert series.values == pytest.approx([1.0, 0.7, 0.49])
    assert stored.training.metrics["loss"].steps == [0, 1, 2]  # the user's own steps untouched
    assert [g.step for g in stored.gradients] == [0, 2, 4]
    assert all(g.optimizer == "optimizer" for g in stored.gradients)


def test_clipping_records_the_produced_norm_and_the_applied_one(tracker: mb.Tracker) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1)
    params = list(model.parameters())
    produced, applied, clip_totals = [], [], []
    for _ in range(3):
        optimizer.zero_grad()
        x = torch.randn(16, 6)
        loss = F.mse_loss(model(x), torch.randn(16, 1)) * 1e5
        loss.backward()
        produced.append(_by_hand(params))
        clip_totals.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)))
        applied.append(_by_hand(params))
        optimizer.step()
    run.finish()
    stored = tracker.get(run.id)
    assert [g.step for g in stored.gradients] == [0, 1, 2]
    for g, hand, total, after in zip(stored.gradients, produced, clip_totals, applied, strict=True):
        assert hand > 1e3  # really exploding
        assert _rel(g.global_norm, hand) < 1e-6
        assert _rel(g.global_norm, total) < 1e-5  # torch's own total norm before clipping
        assert _rel(g.applied_global_norm, after) < 1e-6
        assert g.applied_global_norm == pytest.approx(1.0, rel=1e-4)
        assert g.clipped is True
        assert g.flags["exploding"] is True
    assert stored.run.flags["gradients_exploding"] is True


def test_no_clipping_says_not_clipped(tracker: mb.Tracker) -> None:
    model = nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1)
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    hand = _by_hand(list(model.parameters()))
    optimizer.step()
    run.finish()
    (g,) = tracker.get(run.id).gradients
    assert _rel(g.global_norm, hand) < 1e-6 and g.clipped is False
    assert _rel(g.applied_global_norm, hand) < 1e-6


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.generator = Generator()
        self.discriminator = Discriminator()


def _train_gan(gan: GAN, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> None:
    """The DCGAN loop: D on real and detached fake, then G through D."""
    g = torch.Generator().manual_seed(3)
    criterion = nn.BCEWithLogitsLoss()
    for _ in range(4):
        real = torch.randn(16, 8, generator=g)
        z = torch.randn(16, 4, generator=g)
        opt_d.zero_grad()
        fake = gan.generator(z)
        loss_d = criterion(gan.discriminator(real), torch.ones(16, 1)) + criterion(
            gan.discriminator(fake.detach()), torch.zeros(16, 1)
        )
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(gan.discriminator(fake), torch.ones(16, 1))
        loss_g.backward()
        opt_g.step()


@pytest.mark.parametrize("given", ["none", "list", "dict"])
def test_gan_two_optimizers_each_with_its_own_captures(tracker: mb.Tracker, given: str) -> None:
    torch.manual_seed(2)
    gan = GAN()
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.SGD(gan.discriminator.parameters(), lr=1e-3)
    options: dict[str, object] = {}
    expected = {"generator": ("adam", 2e-4), "discriminator": ("sgd", 1e-3)}
    if given == "list":
        options["optimizer"] = [opt_g, opt_d]
    elif given == "dict":
        options["optimizer"] = {"g_optimizer": opt_g, "d_optimizer": opt_d}
        expected = {"g_optimizer": ("adam", 2e-4), "d_optimizer": ("sgd", 1e-3)}
    run = tracker.track(gan, gradients_every=2, **options)
    _train_gan(gan, opt_g, opt_d)
    run.finish()
    stored = tracker.get(run.id)
    found = {o.key: (o.name, o.learning_rate) for o in stored.network.optimizers}
    assert found == expected
    assert "optimizer" not in stored.network.unknown
    g_key, d_key = list(expected)
    by_key: dict[str, list[mb.records.GradientRecord]] = {}
    for record in stored.gradients:
        by_key.setdefault(record.optimizer, []).append(record)
    assert set(by_key) == {g_key, d_key}
    for key, prefix in ((g_key, "generator."), (d_key, "discriminator.")):
        assert [r.step for r in by_key[key]] == [0, 2]
        for record in by_key[key]:
            assert record.parameters and all(p.name.startswith(prefix) for p in record.parameters)
    assert set(stored.training.metrics) >= {f"learning_rate_{g_key}", f"learning_rate_{d_key}"}
    assert _global_optimizer_hooks() == 0


def test_bad_optimizer_values_are_clear_type_errors(tracker: mb.Tracker) -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for bad in ([opt, "adam"], "adam", {"g": opt, "d": 3}, []):
        with pytest.raises(TypeError, match="optimizer"):
            tracker.track(model, optimizer=bad)
    assert tracker.runs() == []  # nothing was recorded from a wrong value


def test_no_optimizer_given_finds_it_at_its_step(tracker: mb.Tracker) -> None:
    torch.manual_seed(4)
    model = Net()
    other = nn.Linear(3, 1)  # another model's optimizer steps in the same process
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1)
    before = _global_optimizer_hooks()
    run = tracker.track(model, gradients_every=3)
    assert _global_optimizer_hooks() == before + 2
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    x, y = _digits(16)
    hand = {}
    for step in range(7):
        other_opt.zero_grad()
        other(torch.ones(2, 3)).sum().backward()
        other_opt.step()
        optimizer.zero_grad()
        F.nll_loss(model(x), y).backward()
        hand[step] = _by_hand(list(model.parameters()))
        optimizer.step()
    run.finish()
    assert _global_optimizer_hooks() == before
    stored = tracker.get(run.id)
    (record,) = stored.network.optimizers
    assert (record.name, record.class_name, record.key) == ("rmsprop", "RMSprop", "optimizer")
    assert record.learning_rate == 0.01
    assert [g.step for g in stored.gradients] == [0, 3, 6]
    for g in stored.gradients:
        assert g.optimizer == "optimizer" and _rel(g.global_norm, hand[g.step]) < 1e-6
    assert "optimizer" not in stored.network.unknown  # found; only what no loop told is unknown
    assert set(stored.network.unknown) <= {"batch_size", "steps_per_epoch", "epochs_planned"}


def test_no_optimizer_at_all_counts_backward_passes_and_says_why(tracker: mb.Tracker) -> None:
    model = nn.Linear(5, 1)
    run = tracker.track(model, gradients_every=2)
    hand = []
    for _ in range(5):
        model.zero_grad()
        model(torch.randn(4, 5)).pow(2).mean().backward()
        hand.append(_by_hand(list(model.parameters())))
        with torch.no_grad():  # a hand-written SGD update: no optimizer exists
            for p in model.parameters():
                p -= 0.01 * p.grad
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    assert sum("no optimizer record" in str(w.message) for w in caught) == 1
    stored = tracker.get(run.id)
    assert stored.network.optimizer is None and stored.network.optimizers == []
    assert "optimizer" in stored.network.unknown
    assert [g.step for g in stored.gradients] == [0, 2, 4]
    for g in stored.gradients:
        assert g.optimizer is None and _rel(g.global_norm, hand[g.step]) < 1e-6


def test_gradient_accumulation_records_the_accumulated_gradient(tracker: mb.Tracker) -> None:
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1)
    params = list(model.parameters())
    accumulated, last_micro = [], []
    for _ in range(2):
        optimizer.zero_grad()
        for _micro in range(4):
            before = [p.grad.clone() if p.grad is not None else None for p in params]
            x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
            (F.cross_entropy(model(x), y) / 4).backward()
        micro = [p.grad - (b if b is not None else 0) for p, b in zip(params, before, strict=True)]
        last_micro.append(math.sqrt(sum(m.double().pow(2).sum().item() for m in micro)))
        accumulated.append(_by_hand(params))
        nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01)
        optimizer.step()
    run.finish()
    records = tracker.get(run.id).gradients
    assert [g.step for g in records] == [0, 1]
    for g, total, micro in zip(records, accumulated, last_micro, strict=True):
        assert _rel(g.global_norm, total) < 1e-6
        assert _rel(g.global_norm, micro) > 1e-3  # not the last micro-batch alone
        assert g.clipped is True and g.applied_global_norm < g.global_norm  # clip_grad_value_


def test_amp_gradscaler_on_cpu_unscale_clip_step(tracker: mb.Tracker) -> None:
    """torch's AMP recipe with clipping: scale, backward, unscale_, clip, scaler.step, update."""
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1)
    totals, scaled = [], []
    for _ in range(3):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(torch.randn(16, 8)), torch.randint(0, 4, (16,)))
        scaler.scale(loss).backward()
        scaled.append(_by_hand(list(model.parameters())))
        scaler.unscale_(optimizer)
        totals.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.05)))
        scaler.step(optimizer)
        scaler.update()
    run.finish()
    records = tracker.get(run.id).gradients
    assert len(records) == 3
    for g, total, big in zip(records, totals, scaled, strict=True):
        assert g.scaled is False
        assert _rel(g.global_norm, total) < 1e-5  # unscaled, before clipping
        assert _rel(g.global_norm, big) > 0.5  # not the scaled values
        assert g.applied_global_norm == pytest.approx(0.05, rel=1e-3) and g.clipped is True


def test_amp_gradscaler_declared_without_optimizer_hooks(tracker: mb.Tracker) -> None:
    """``grad_scaler=`` names the scaler; a fused optimizer gets the scale itself."""
    torch.manual_seed(7)
    model = nn.Linear(8, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1, grad_scaler=scaler)
    optimizer.zero_grad()
    scaler.scale(model(torch.rand(16, 8)).pow(2).mean()).backward()
    unscaled = _by_hand(list(model.parameters())) / 2.0**8
    scaler.step(optimizer)
    scaler.update()
    run.finish()
    (g,) = tracker.get(run.id).gradients
    assert _rel(g.global_norm, unscaled) < 1e-5
    assert _rel(g.applied_global_norm, unscaled) < 1e-5 and g.clipped is False


def test_compiled_and_data_parallel_modules_capture(tracker: mb.Tracker) -> None:
    torch.manual_seed(8)
    for wrap in ("compile", "data_parallel"):
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        wrapped = (
            torch.compile(model, backend="aot_eager")
            if wrap == "compile"
            else nn.DataParallel(model)
        )
        optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1)
        run = tracker.track(wrapped, optimizer=optimizer, gradients_every=1)
        optimizer.zero_grad()
        wrapped(torch.randn(8, 4)).pow(2).mean().backward()
        hand = _by_hand(list(model.parameters()))
        nn.utils.clip_grad_norm_(wrapped.parameters(), max_norm=hand / 2)
        optimizer.step()
        run.finish()
        (g,) = tracker.get(run.id).gradients
        assert _rel(g.global_norm, hand) < 1e-6, wrap
        assert g.clipped is True, wrap
        assert {p.name for p in g.parameters} == {n for n, _ in model.named_parameters()}


def test_a_step_gradscaler_skips_is_not_counted(tracker: mb.Tracker) -> None:
    """The first scale overflows (inf found, no optimizer step); the step that follows is step
    0, with the gradients of its own backward, unscaled."""
    torch.manual_seed(9)
    model = nn.Linear(6, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127, backoff_factor=2.0**-100)
    run = tracker.track(model, optimizer=optimizer, gradients_every=1)
    scales, unscaled = [], []
    for _ in range(2):
        optimizer.zero_grad()
        scale = scaler.get_scale()
        scaler.scale(model(torch.randn(8, 6)).pow(2).sum() * 1e3).backward()
        scales.append(scale)
        unscaled.append(_by_hand(list(model.parameters())) / scale)
        scaler.step(optimizer)
        scaler.update()
    run.finish()
    assert scales[1] < scales[0] and not math.isfinite(unscaled[0])  # the first was skipped
    (g,) = tracker.get(run.id).gradients
    assert g.step == 0 and _rel(g.global_norm, unscaled[1]) < 1e-5
    assert g.flags["nonfinite"] is False
