"""``minigan.metrics``: how good are the samples?

Mode coverage on the 2-D mixtures (``mixture``); for images, the Fréchet distance
between feature statistics (``frechet``), the classifier ("Inception") score and
class coverage (``scores``), and improved precision and recall (``precision_recall``).
"""

from .frechet import feature_statistics, fid_from_features, frechet_distance  # noqa: F401
from .mixture import mixture_metrics  # noqa: F401
from .precision_recall import precision_recall  # noqa: F401
from .scores import class_histogram, class_kl_from_uniform, classes_covered, classifier_score  # noqa: F401
