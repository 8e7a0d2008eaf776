"""``evaluate_run``: evaluate a run's model (or given predictions), store the record and plots."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelboard.evaluation.comparability import stamp_comparability
from modelboard.evaluation.compute import record_from_inputs
from modelboard.evaluation.task import PreparedInputs, prepare_inputs

if TYPE_CHECKING:
    from modelboard.records import EvaluationRecord
    from modelboard.tracking import Run

__all__ = ["evaluate_run", "write_plots"]


def evaluate_run(
    run: Run,
    x: Any = None,
    y: Any = None,
    *,
    y_true: Any = None,
    y_score: Any = None,
    y_pred: Any = None,
    split: str = "val",
    task: str | None = None,
    class_names: list[str] | None = None,
    score_kind: str | None = None,
    threshold: float = 0.5,
    plots: bool = True,
    batch_size: int | None = None,
) -> EvaluationRecord:
    """Evaluate on one split, store the record with ``run.store_evaluation``, write PNG plots.

    Either ``x`` and ``y`` (the tracked model predicts ``x`` through its adapter), ``x`` alone
    as a loader of ``(x, y)`` batches (a DataLoader, a ``tf.data`` pipeline, a Keras
    ``PyDataset``: each batch is predicted and its labels kept with it, so shuffling is safe),
    or ``y_true`` (or ``y``) with ``y_score=`` and/or ``y_pred=`` made elsewhere.
    ``batch_size`` is the prediction batch size of this call. ``class_names`` defaults to
    the run's data record's. Bad input raises ``ValueError`` before anything is stored, so the
    run stays usable. See ``compute_evaluation`` for the other arguments.
    """
    from modelboard.loaders import is_loader

    if y is not None and y_true is not None:
        raise ValueError("pass the true labels once: as y (run.evaluate(x, y)) or as y_true=")
    truth = y_true if y_true is not None else y
    from_model = y_score is None and y_pred is None
    inputs_kind = (
        "loader" if from_model and is_loader(x) else "arrays" if from_model else "predictions"
    )
    if from_model and is_loader(x):
        if truth is not None:
            raise ValueError(
                f"the {type(x).__qualname__} carries the labels: call run.evaluate(loader) "
                "without y, or pass arrays as run.evaluate(x, y)"
            )
        y_score, truth = run.predict_with_labels(x, batch_size=batch_size)
    elif from_model:
        if truth is None:
            raise ValueError(
                "pass the true labels: run.evaluate(x, y), run.evaluate(loader) with a loader "
                "of (x, y) batches, or run.evaluate(y_true=..., y_score=...)"
            )
        if x is None:
            raise ValueError(
                "pass x for the tracked model to predict (run.evaluate(x, y)), or predictions "
                "made elsewhere as y_score= (probabilities or logits) or y_pred= (labels)"
            )
        check_same_length(split, x, truth)
        y_score = run.predict(x, batch_size=batch_size)
    elif x is not None:
        raise ValueError("pass x (the model predicts) or y_score=/y_pred=, not both")
    elif truth is None:
        raise ValueError("pass the true labels: run.evaluate(y_true=..., y_score=...)")

    def prepare(names: list[str] | None) -> PreparedInputs:
        return prepare_inputs(
            truth,
            y_score,
            y_pred,
            task=task,
            class_names=names,
            score_kind=score_kind,
            threshold=threshold,
        )

    data_names = run.data.class_names if run.data is not None else None
    if class_names is None and data_names:
        try:
            prep = prepare(list(data_names))
        except ValueError as exc:  # the data record's names do not fit these predictions
            prep = prepare(None)
            prep.warnings.append(f"the run's data class_names were not used: {exc}")
        else:
            prep.inputs["class_names_source"] = "data record"
    else:
        prep = prepare(class_names)
    if from_model:
        prep.inputs["prediction_source"] = "model"
    record = record_from_inputs(prep, split)
    stamp_comparability(record, prep, data=run.data, x=x, y=truth, inputs_kind=inputs_kind)
    run.store_evaluation(record)
    if plots:
        write_plots(run, record, prep)
        run.store_evaluation(record)
    return record


def check_same_length(split: str, x: Any, y: Any) -> None:
    """Refuse ``x`` and ``y`` of different lengths (a ``ValueError`` naming both)."""
    from modelboard.data import rows

    x_rows, y_rows = rows(x), rows(y)
    if x_rows is not None and y_rows is not None and x_rows != y_rows:
        raise ValueError(
            f"split {split!r}: x has {x_rows} rows but y has {y_rows}; give one label per input row"
        )


def _file_stem(split: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", split).strip("._") or "split"


def write_plots(run: Run, record: EvaluationRecord, prep: PreparedInputs | None = None) -> None:
    """Write the record's PNG plots as the run's artifacts and list them in ``record.artifacts``.

    A plot that fails is noted in ``record.warnings``; the others are still written. With a
    remote artifact root the PNGs are drawn in a temporary folder and uploaded.
    """
    stem = _file_stem(record.split)
    if run.artifact_store.remote:  # draw into a local temporary folder, then upload
        with tempfile.TemporaryDirectory(prefix="modelboard-plots-") as staging:
            _write_plot_files(run, record, prep, stem, Path(staging))
    else:
        _write_plot_files(run, record, prep, stem, Path(run.artifact_dir))


def _write_plot_files(
    run: Run, record: EvaluationRecord, prep: PreparedInputs | None, stem: str, folder: Path
) -> None:
    """Draw each plot into ``folder`` and log it as an artifact of ``run``."""
    from modelboard.evaluation import plots

    jobs: list[tuple[str, Any]] = []
    if record.confusion_matrix is not None and record.class_names:
        cm, names = record.confusion_matrix, record.class_names
        jobs.append(
            (f"{stem}_confusion_matrix.png", lambda p: plots.plot_confusion_matrix(cm, names, p))
        )
        jobs.append(
            (
                f"{stem}_confusion_matrix_normalized.png",
                lambda p: plots.plot_confusion_matrix(cm, names, p, normalized=True),
            )
        )
    if "roc" in record.curves:
        jobs.append((f"{stem}_roc.png", lambda p: plots.plot_roc(record, p)))
    if "pr" in record.curves:
        jobs.append((f"{stem}_pr.png", lambda p: plots.plot_pr(record, p)))
    if record.task == "regression" and prep is not None:
        truth, predicted = prep.y_true, prep.y_pred
        jobs.append(
            (f"{stem}_predictions.png", lambda p: plots.plot_predictions(truth, predicted, p))
        )
    jobs.append(("training_curves.png", lambda p: plots.plot_training_curves(run.training(), p)))
    for name, draw in jobs:
        try:
            written = draw(folder / name)
            if written is None:
                continue
            run.log_artifact(written, name=name, kind="plot")
        except Exception as exc:  # a failed plot must not lose the evaluation: record it
            record.warnings.append(f"plot {name} was not written: {type(exc).__name__}: {exc}")
            continue
        if name not in record.artifacts:
            record.artifacts.append(name)
