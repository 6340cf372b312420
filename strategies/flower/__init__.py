"""Plain Flower strategies (Message API) on fedstake's robust aggregators — no chain needed.

from strategies.flower import Krum, Median
strategy = Krum(num_malicious=2, fraction_train=1.0)
"""

from strategies.flower.arrays import ArraySpec, ModelLayout, flatten, unflatten
from strategies.flower.replies import Excluded, ValidReply, stack_updates, validate_replies
from strategies.flower.robust import RobustStrategy
from strategies.flower.rules import (
    Bulyan,
    CenteredClipping,
    GeometricMedian,
    Krum,
    Median,
    MultiKrum,
    TrimmedMean,
)

STRATEGIES: dict[str, type[RobustStrategy]] = {
    "median": Median,
    "trimmed_mean": TrimmedMean,
    "krum": Krum,
    "multi_krum": MultiKrum,
    "bulyan": Bulyan,
    "geometric_median": GeometricMedian,
    "centered_clipping": CenteredClipping,
}

__all__ = [
    "STRATEGIES",
    "ArraySpec",
    "Bulyan",
    "CenteredClipping",
    "Excluded",
    "GeometricMedian",
    "Krum",
    "Median",
    "ModelLayout",
    "MultiKrum",
    "RobustStrategy",
    "TrimmedMean",
    "ValidReply",
    "flatten",
    "stack_updates",
    "unflatten",
    "validate_replies",
]
