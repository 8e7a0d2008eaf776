"""The core schema: versioned, JSON-serialisable records of a run (see docs/schema.md)."""

from modelboard.records.base import Record
from modelboard.records.data import AugmentationRecord, DataRecord, SplitRecord
from modelboard.records.evaluation import EvaluationRecord
from modelboard.records.gradients import GradientRecord, ParameterGradientStats
from modelboard.records.network import LayerRecord, NetworkRecord, OptimizerRecord
from modelboard.records.run import RUN_STATUSES, ArtifactRecord, RunRecord
from modelboard.records.training import MetricSeries, TrainingRecord

__all__ = [
    "Record",
    "RunRecord",
    "RUN_STATUSES",
    "ArtifactRecord",
    "DataRecord",
    "SplitRecord",
    "AugmentationRecord",
    "NetworkRecord",
    "LayerRecord",
    "OptimizerRecord",
    "TrainingRecord",
    "MetricSeries",
    "GradientRecord",
    "ParameterGradientStats",
    "EvaluationRecord",
]
