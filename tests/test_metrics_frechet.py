"""The Fréchet distance against an independent implementation, closed forms and its properties.

The reference takes the square root of the non-symmetric product S1 S2 with
scipy.linalg.sqrtm (a test-only dependency); minigan's route uses symmetric
eigen-decompositions only. Both must agree on well-conditioned, ill-conditioned
and rank-deficient covariances in 2 to 64 dimensions. Covariances that share
eigenvectors have an exact answer, and one dimension is worked out by hand.
"""

import warnings

import numpy as np
import pytest

from minigan.metrics.frechet import feature_statistics, fid_from_features, frechet_distance

DIMS = [2, 3, 8, 17, 32, 64]
EPS = np.finfo(np.float64).eps


def sqrtm_reference(mu1, sigma1, mu2, sigma2):
    """The textbook formula, with a general matrix square root of S1 S2."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    root = scipy_linalg.sqrtm(sigma1 @ sigma2)
    shift = mu1 - mu2
    return float(shift @ shift + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root).real)


def rounding_level(sigma1, sigma2):
    """How far rounding alone can move the distance. The eigenvalues of A S2 A (A = S1^(1/2))
    carry errors of about d eps ||S1|| ||S2||; where a true eigenvalue is that small (a rank
    deficit, or a condition number past 1e8, since A S2 A squares it), its square root is off
    by about the square root of that. d such roots, counted twice in the formula."""
    d = len(sigma1)
    return 2 * d * np.sqrt(d * EPS * np.linalg.norm(sigma1, 2) * np.linalg.norm(sigma2, 2))


def rotation(rng, d):
    """A random orthogonal (d, d) matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def with_eigenvalues(rng, eigenvalues):
    q = rotation(rng, len(eigenvalues))
    sigma = (q * eigenvalues) @ q.T
    return (sigma + sigma.T) / 2


def well_conditioned(rng, d):
    w = rng.standard_normal((d, d))
    return w @ w.T / d + 0.1 * np.eye(d)


def ill_conditioned(rng, d, decades=8):
    """Eigenvalues spread evenly (in log) over ``decades`` powers of ten: condition number 10^decades."""
    return with_eigenvalues(rng, np.logspace(-decades, 0, d) * rng.uniform(0.5, 2))


def rank_deficient(rng, d):
    """Rank d // 3: the covariance of fewer samples than features."""
    w = rng.standard_normal((d, max(1, d // 3)))
    return w @ w.T / w.shape[1]


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("make", [well_conditioned, ill_conditioned], ids=["well-conditioned", "ill-conditioned"])
def test_matches_scipy_sqrtm(make, d):
    rng = np.random.default_rng(d)
    for _ in range(3):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        sigma1, sigma2 = make(rng, d), make(rng, d)
        expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
        assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("d", DIMS)
def test_matches_scipy_sqrtm_on_rank_deficient_covariances(d):
    """At a zero eigenvalue the square root is not differentiable, so both implementations
    may be off by the rounding level; sqrtm also warns that S1 S2 is singular."""
    rng = np.random.default_rng(100 + d)
    for _ in range(3):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        sigma1, sigma2 = rank_deficient(rng, d), rank_deficient(rng, d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = sqrtm_reference(mu1, sigma1, mu2, sigma2)
        actual = frechet_distance(mu1, sigma1, mu2, sigma2)
        assert actual == pytest.approx(expected, rel=1e-6, abs=rounding_level(sigma1, sigma2))


@pytest.mark.parametrize("d", DIMS)
def test_covariances_with_shared_eigenvectors_have_a_closed_form(d):
    """S1 = Q diag(a) Q^T and S2 = Q diag(b) Q^T commute, so (S1 S2)^(1/2) = Q diag(sqrt(a b)) Q^T and
    d = ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2: exact even with zero and tiny eigenvalues."""
    rng = np.random.default_rng(200 + d)
    a = np.logspace(-10, 1, d)
    b = rng.uniform(0, 3, d)
    a[rng.permutation(d)[: d // 3]] = 0.0  # rank-deficient too
    b[rng.permutation(d)[: d // 4]] = 0.0
    q = rotation(rng, d)
    sigma1, sigma2 = (q * a) @ q.T, (q * b) @ q.T
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_one_dimension_by_hand():
    """Between N(m1, s1^2) and N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2. Here 4 + 9 = 13."""
    d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[25.0]]))
    assert d == pytest.approx(13.0, abs=1e-12)


@pytest.mark.parametrize("make", [well_conditioned, rank_deficient])
@pytest.mark.parametrize("d", DIMS)
def test_identical_statistics_are_at_distance_zero(make, d):
    """Eigenvalues at the rounding level are set to zero, so a rank deficit costs nothing."""
    rng = np.random.default_rng(300 + d)
    mu, sigma = rng.standard_normal(d), make(rng, d)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


@pytest.mark.parametrize("d", DIMS)
def test_identical_ill_conditioned_statistics_are_at_distance_zero_up_to_rounding(d):
    """With a condition number of 1e8, A S A = S^2 has eigenvalues down to 1e-16: at the
    rounding level, so their square roots (1e-8) are lost or blurred."""
    rng = np.random.default_rng(300 + d)
    mu, sigma = rng.standard_normal(d), ill_conditioned(rng, d)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < rounding_level(sigma, sigma)
    sigma = ill_conditioned(rng, d, decades=4)  # squared, 1e8: still far above rounding
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


@pytest.mark.parametrize("make", [well_conditioned, ill_conditioned, rank_deficient])
@pytest.mark.parametrize("d", DIMS)
def test_symmetric_in_its_arguments(make, d):
    """The two orders take different routes (the square root of S1 or of S2): equal up to rounding."""
    rng = np.random.default_rng(400 + d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    sigma1, sigma2 = make(rng, d), make(rng, d)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(
        frechet_distance(mu2, sigma2, mu1, sigma1), rel=1e-12, abs=rounding_level(sigma1, sigma2)
    )


@pytest.mark.parametrize("d", DIMS)
def test_a_mean_shift_adds_its_squared_length(d):
    rng = np.random.default_rng(500 + d)
    mu, shift = rng.standard_normal(d), 3 * rng.standard_normal(d)
    sigma1, sigma2 = well_conditioned(rng, d), rank_deficient(rng, d)
    same_means = frechet_distance(mu, sigma1, mu, sigma2)
    assert frechet_distance(mu, sigma1, mu + shift, sigma2) == pytest.approx(same_means + shift @ shift, rel=1e-12)
    assert frechet_distance(mu, sigma1, mu + shift, sigma1) == pytest.approx(shift @ shift, rel=1e-9)


def test_the_result_is_a_float():
    d = frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
    assert type(d) is float and d == pytest.approx(2.0)


def test_feature_statistics_are_the_mean_and_the_unbiased_covariance():
    features = np.random.default_rng(0).standard_normal((50, 6))
    mean, cov = feature_statistics(features)
    np.testing.assert_allclose(mean, features.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(cov, np.cov(features, rowvar=False, ddof=1), rtol=1e-12, atol=1e-15)
    mean, cov = feature_statistics(np.array([[1.0], [2.0], [6.0]]))  # one feature: still (D,) and (D, D)
    assert mean.shape == (1,) and cov.shape == (1, 1)
    assert mean[0] == pytest.approx(3.0) and cov[0, 0] == pytest.approx((4 + 1 + 9) / 2)


def test_feature_statistics_work_in_float64():
    features = np.random.default_rng(1).standard_normal((20, 3)).astype(np.float32)
    mean, cov = feature_statistics(features)
    assert mean.dtype == np.float64 and cov.dtype == np.float64


def test_two_samples_of_one_gaussian_are_close():
    rng = np.random.default_rng(2)
    mixing = rng.standard_normal((8, 8))
    f1 = rng.standard_normal((4000, 8)) @ mixing
    f2 = rng.standard_normal((4000, 8)) @ mixing
    assert 0 <= fid_from_features(f1, f2) < 0.1  # sampling noise: a few times D^2 / N


def test_shifted_gaussians_are_about_the_squared_shift_apart():
    rng = np.random.default_rng(3)
    shift = np.array([3.0, 0.0, -4.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # ||shift||^2 = 25
    f1 = rng.standard_normal((4000, 8))
    f2 = rng.standard_normal((4000, 8)) + shift
    assert fid_from_features(f1, f2) == pytest.approx(25.0, abs=0.5)


def test_more_features_than_samples_give_a_finite_distance():
    rng = np.random.default_rng(4)
    f1, f2 = rng.standard_normal((10, 64)), rng.standard_normal((12, 64)) + 1
    mu1, sigma1 = feature_statistics(f1)
    mu2, sigma2 = feature_statistics(f2)
    d = fid_from_features(f1, f2)
    assert np.isfinite(d) and d > 0
    assert d == pytest.approx(sqrtm_reference(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_mismatched_or_malformed_statistics_are_refused():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="different dimensions"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"square \(D, D\)"):
        frechet_distance(mu, np.ones((3, 4)), mu, sigma)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        frechet_distance(mu, sigma, mu, np.eye(2))
    with pytest.raises(ValueError, match=r"vector \(D,\)"):
        frechet_distance(np.zeros((3, 1)), sigma, mu, sigma)
    with pytest.raises(ValueError, match="not symmetric"):
        frechet_distance(mu, np.triu(np.ones((3, 3))), mu, sigma)


def test_malformed_features_are_refused():
    with pytest.raises(ValueError, match="at least 2 samples"):
        feature_statistics(np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        feature_statistics(np.zeros(5))
    with pytest.raises(ValueError, match="same layer"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
