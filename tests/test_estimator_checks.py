"""scikit-learn's estimator checks on both focal classifiers, with no expected failures.

Every check is its own test (``parametrize_with_checks``), so a regression names the check. The
only skip is ``check_array_api_input``, which scikit-learn skips itself unless array-API support
is installed and enabled (it skips it for XGBClassifier and LGBMClassifier as well).
n_jobs=1 keeps the many tiny fits cheap on a two-core machine.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier


@parametrize_with_checks([FocalXGBClassifier(n_jobs=1), FocalLGBMClassifier(n_jobs=1)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
