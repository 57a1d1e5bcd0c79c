"""``minigan.metrics``: how good are the samples?

Mode coverage on the 2-D mixtures (``mixture``); for images, a small classifier
trained by minigan (``classifier``) whose features and probabilities feed the
Fréchet distance (``frechet``), the classifier ("Inception") score and class
coverage (``scores``), and improved precision and recall (``precision_recall``);
``evaluate`` puts them together and ``sanity`` gives the scale to read them on.
"""

from .classifier import Classifier, load_classifier, load_or_train_classifier, save_classifier, train_classifier  # noqa: F401
from .evaluate import evaluate_images, evaluate_mixture, real_statistics  # noqa: F401
from .frechet import feature_statistics, fid_from_features, frechet_distance  # noqa: F401
from .mixture import mixture_metrics  # noqa: F401
from .precision_recall import precision_recall  # noqa: F401
from .sanity import box_blur, sanity_scale  # noqa: F401
from .scores import class_histogram, class_kl_from_uniform, classes_covered, classifier_score  # noqa: F401
