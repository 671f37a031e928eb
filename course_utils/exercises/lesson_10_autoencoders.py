"""Exercises of lesson 10_autoencoders: an autoencoder's forward pass and loss, PCA, principal
angles, and the VAE's KL term and reparameterisation trick.

    autoencoder_forward(x, w_enc, b_enc, w_dec, b_dec)    (code, x_hat): relu encoder, sigmoid decoder
    reconstruction_loss(x, x_hat)                         (MSE, dL/dx_hat)
    pca_reconstruction(x_fit, x, k)                       x projected on the top-k principal components of x_fit
    principal_angles(a, b)                                the angles between the column spaces of a and b
    kl_divergence(mu, log_var)                            (KL to N(0, I), dKL/dmu, dKL/dlog_var)
    reparameterize(mu, log_var, eps, dz)                  (z, dL/dmu, dL/dlog_var)

Shapes: a batch is (N, D) (pixels) or (N, k) (codes / latent variables); the weights are Keras's
Dense layout, kernel (in, out) and bias (out,). The references reuse course_utils.nn (Dense,
MeanSquaredError) and scipy.linalg.subspace_angles, which the notebook checks against Keras.
"""
import numpy as np
import scipy.linalg

from ..nn.activations import sigmoid as _sigmoid
from ..nn.layers.core import Dense
from ..nn.losses import MeanSquaredError
from . import Case, Exercise

LESSON = "10_autoencoders"


def _dense(kernel, bias, activation):
    layer = Dense(kernel.shape[1], activation=activation, dtype="float64")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    return layer


# ----------------------------------------------------------------------------- autoencoder_forward
def autoencoder_forward(x, w_enc, b_enc, w_dec, b_dec):
    """code = relu(x @ w_enc + b_enc), x_hat = sigmoid(code @ w_dec + b_dec).
    x (N, D), w_enc (D, k), b_enc (k,), w_dec (k, D), b_dec (D,) -> (code (N, k), x_hat (N, D))."""
    code = _dense(np.asarray(w_enc, float), np.asarray(b_enc, float), "relu").forward(np.asarray(x, float))
    return code, _dense(np.asarray(w_dec, float), np.asarray(b_dec, float), "sigmoid").forward(code)


def _autoencoder_forward_cases(rng):
    def weights(d, k):
        return rng.normal(size=(d, k)), rng.normal(size=k), rng.normal(size=(k, d)), rng.normal(size=d)
    w_enc, b_enc, w_dec, b_dec = weights(6, 3)
    b_at_zero = np.array([0.0, -1.0, 2.0])
    x_at_zero = np.vstack([np.zeros(6), rng.random((3, 6))])    # row 0: pre-activations exactly b
    return [Case((rng.random((5, 8)),) + weights(8, 3), label="5 images of 8 pixels, a 3-unit code"),
            Case((rng.random((4, 6)), w_enc, b_enc, w_dec, b_dec), label="4 images of 6 pixels"),
            Case((x_at_zero, w_enc, b_at_zero, w_dec, b_dec),
                 label="a blank image: code pre-activations exactly 0, -1 and 2 (relu(0) = 0)")]


Exercise(f"{LESSON}.autoencoder_forward", reference=autoencoder_forward, cases=_autoencoder_forward_cases,
         mistakes={
             "the encoder has no relu: code = relu(x @ w_enc + b_enc).":
                 lambda x, we, be, wd, bd: (x @ we + be, _sigmoid((x @ we + be) @ wd + bd)),
             "the decoder has no sigmoid: x_hat = sigmoid(code @ w_dec + b_dec), pixels in (0, 1).":
                 lambda x, we, be, wd, bd: (np.maximum(x @ we + be, 0), np.maximum(x @ we + be, 0) @ wd + bd),
             "the biases are missing: code = relu(x @ w_enc + b_enc), x_hat = sigmoid(code @ w_dec + b_dec).":
                 lambda x, we, be, wd, bd: (np.maximum(x @ we, 0), _sigmoid(np.maximum(x @ we, 0) @ wd)),
         },
         output_names=("code", "x_hat"),
         title="an autoencoder's forward pass: a relu encoder to the code, a sigmoid decoder back to pixels")


# ----------------------------------------------------------------------------- reconstruction_loss
def reconstruction_loss(x, x_hat):
    """L = mean over all N * D entries of (x_hat - x)^2 (Keras's MeanSquaredError), dL/dx_hat = 2 (x_hat - x) / (N D).
    x (N, D), x_hat (N, D) -> (loss, d_x_hat (N, D))."""
    x, x_hat = np.asarray(x, float), np.asarray(x_hat, float)
    loss = MeanSquaredError()
    return float(loss(x, x_hat)), loss.gradient(x, x_hat)


def _reconstruction_loss_cases(rng):
    x = rng.random((4, 6))
    partly_perfect = rng.random((3, 5))
    x_hat = partly_perfect.copy()
    x_hat[1:] = rng.random((2, 5))                               # row 0 reconstructed exactly
    return [Case((x, rng.random((4, 6))), label="4 images of 6 pixels"),
            Case((partly_perfect, x_hat), label="the first image reconstructed exactly (its gradient row is 0)"),
            Case((rng.random((2, 9)), rng.random((2, 9))), label="2 images of 9 pixels")]


Exercise(f"{LESSON}.reconstruction_loss", reference=reconstruction_loss, cases=_reconstruction_loss_cases,
         mistakes={
             "the squared errors are summed over the pixels and averaged over the images only; Keras's "
             "MeanSquaredError averages over all N * D entries (and the gradient is 2 (x_hat - x) / (N D)).":
                 lambda x, xh: (float(np.sum((xh - x) ** 2) / len(x)), 2 * (xh - x) / len(x)),
             "the factor 2 of the gradient is missing: d/dx_hat (x_hat - x)^2 = 2 (x_hat - x).":
                 lambda x, xh: (float(np.mean((xh - x) ** 2)), (xh - x) / x.size),
             "the gradient's sign is flipped: dL/dx_hat = 2 (x_hat - x) / (N D), it points towards larger errors.":
                 lambda x, xh: (float(np.mean((xh - x) ** 2)), 2 * (x - xh) / x.size),
             "the gradient is divided by N only: the loss is a mean over all N * D entries, so divide by N * D.":
                 lambda x, xh: (float(np.mean((xh - x) ** 2)), 2 * (xh - x) / len(x)),
         },
         output_names=("loss", "d_x_hat"),
         title="the reconstruction loss (mean squared error) and its gradient")


# ----------------------------------------------------------------------------- pca_reconstruction
def pca_reconstruction(x_fit, x, k):
    """x projected onto the top-k principal components of x_fit and mapped back:
    mean + (x - mean) @ V_k @ V_k.T, with mean = x_fit's column means and V_k (D, k) the top-k right
    singular vectors of the centred x_fit. k = 0 gives the mean for every row.
    x_fit (M, D), x (N, D), 0 <= k < D -> (N, D)."""
    x_fit, x = np.asarray(x_fit, float), np.asarray(x, float)
    mean = x_fit.mean(axis=0)
    _, _, vt = np.linalg.svd(x_fit - mean, full_matrices=False)
    v_k = vt[:k].T
    return mean + (x - mean) @ v_k @ v_k.T


def _pca_uncentred(x_fit, x, k):
    _, _, vt = np.linalg.svd(x_fit, full_matrices=False)
    return x @ vt[:k].T @ vt[:k]


def _pca_no_mean_back(x_fit, x, k):
    mean = x_fit.mean(axis=0)
    _, _, vt = np.linalg.svd(x_fit - mean, full_matrices=False)
    return (x - mean) @ vt[:k].T @ vt[:k]


def _pca_mean_of_x(x_fit, x, k):
    _, _, vt = np.linalg.svd(x_fit - x_fit.mean(axis=0), full_matrices=False)
    mean = x.mean(axis=0)
    return mean + (x - mean) @ vt[:k].T @ vt[:k]


def _pca_reconstruction_cases(rng):
    def data(m, d):   # correlated columns with an offset, as pixels are
        return 0.5 + rng.normal(size=(m, d)) @ rng.normal(size=(d, d)) * 0.3
    x_fit = data(20, 6)
    return [Case((x_fit, data(4, 6), 2), label="6 features, 2 components, new rows"),
            Case((x_fit, x_fit[:5], 3), label="3 components, rows of x_fit itself"),
            Case((x_fit, data(3, 6), 0), label="k = 0: every row becomes the mean"),
            Case((x_fit, data(3, 6), 5), label="k = D - 1 = 5 components")]


Exercise(f"{LESSON}.pca_reconstruction", reference=pca_reconstruction, cases=_pca_reconstruction_cases,
         mistakes={
             "the data is not centred: subtract x_fit's column means before the SVD and before projecting, "
             "and add them back after.": _pca_uncentred,
             "the mean is not added back: x_hat = mean + (x - mean) @ V_k @ V_k.T.": _pca_no_mean_back,
             "x is centred with its own mean; the mean (like the components) belongs to the fitted data: "
             "mean = x_fit.mean(axis=0), for any x projected.": _pca_mean_of_x,
         },
         output_names=("x_hat",),
         title="PCA's reconstruction with k components")


# ----------------------------------------------------------------------------- principal_angles
def principal_angles(a, b):
    """The principal angles between the column spaces of a and b, in radians, smallest first.
    Orthonormalise each basis (QR), then the cosines are the singular values of Q_a.T @ Q_b.
    a (D, k), b (D, k) with full column rank -> (k,) in [0, pi/2], ascending."""
    return np.sort(scipy.linalg.subspace_angles(np.asarray(a, float), np.asarray(b, float)))


def _angles_raw(a, b):
    with np.errstate(invalid="ignore"):
        return np.sort(np.arccos(np.linalg.svd(a.T @ b, compute_uv=False)))


def _angles_cosines(a, b):
    qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
    return np.sort(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1))


def _principal_angles_cases(rng):
    e = np.eye(5)
    return [Case((rng.normal(size=(6, 3)), rng.normal(size=(6, 3))), label="two random 3-D subspaces of R^6"),
            Case((np.column_stack([3 * e[0], e[0] + e[1]]), np.column_stack([2 * e[0], e[2]])),
                 label="one shared direction and one orthogonal: angles 0 and pi/2 (bases not orthonormal)"),
            Case((np.column_stack([e[0], e[1], e[2] + e[3]]), np.column_stack([e[0] + e[1], e[1], 2 * e[3]])),
                 label="two shared directions and one at 45 degrees: angles 0, 0, pi/4")]


Exercise(f"{LESSON}.principal_angles", reference=principal_angles, cases=_principal_angles_cases,
         mistakes={
             "the bases are not orthonormalised: the singular values of a.T @ b are cosines only when the "
             "columns of a and of b are orthonormal (np.linalg.qr(a)[0]).": _angles_raw,
             "these are the cosines of the angles; return np.arccos of them (clipped to [-1, 1]).": _angles_cosines,
             "the angles are in degrees; return radians.": lambda a, b: np.degrees(principal_angles(a, b)),
             "the angles are largest first; sort them smallest first (np.sort).":
                 lambda a, b: principal_angles(a, b)[::-1],
         },
         output_names=("angles",),
         atol=1e-6,      # arccos near 1 loses half the digits: an angle of 0 comes out as ~1e-8
         title="the principal angles between two subspaces")


# ----------------------------------------------------------------------------- kl_divergence
def kl_divergence(mu, log_var):
    """KL(N(mu, sigma^2) || N(0, 1)) summed over the latent dimensions, averaged over the batch:
    KL = mean_n sum_j -1/2 (1 + log_var - mu^2 - exp(log_var)), and its gradients
    dKL/dmu = mu / N, dKL/dlog_var = (exp(log_var) - 1) / (2 N).
    mu (N, k), log_var (N, k) -> (kl, d_mu (N, k), d_log_var (N, k))."""
    mu, log_var = np.asarray(mu, float), np.asarray(log_var, float)
    n = len(mu)
    kl = float(np.mean(np.sum(-0.5 * (1 + log_var - mu ** 2 - np.exp(log_var)), axis=1)))
    return kl, mu / n, (np.exp(log_var) - 1) / (2 * n)


def _kl_divergence_cases(rng):
    mu_prior, lv_prior = rng.normal(size=(3, 2)), rng.normal(0, 0.5, size=(3, 2))
    mu_prior[0], lv_prior[0] = 0.0, 0.0
    return [Case((rng.normal(size=(4, 2)), rng.normal(0, 0.5, size=(4, 2))), label="4 samples, 2 latent dimensions"),
            Case((mu_prior, lv_prior), label="the first sample exactly the prior (mu = 0, log_var = 0: KL 0)"),
            Case((rng.normal(size=(2, 3)), np.array([[-3.0, 0.0, 2.0], [1.0, -1.0, 0.5]])),
                 label="log_var from -3 (a sharp posterior) to 2 (a wide one)")]


def _kl_sigma(mu, lv):
    n = len(mu)
    kl = float(np.mean(np.sum(-0.5 * (1 + lv - mu ** 2 - np.exp(lv / 2)), axis=1)))
    return kl, mu / n, (np.exp(lv / 2) / 2 - 1) / (2 * n)


Exercise(f"{LESSON}.kl_divergence", reference=kl_divergence, cases=_kl_divergence_cases,
         mistakes={
             "the 1/2 is missing: KL = -1/2 sum (1 + log_var - mu^2 - exp(log_var)).":
                 lambda mu, lv: tuple(2 * v for v in kl_divergence(mu, lv)),
             "the KL is summed over the batch; average it over the N samples (and divide the gradients by N).":
                 lambda mu, lv: tuple(v * len(mu) for v in kl_divergence(mu, lv)),
             "exp(log_var / 2) is sigma, not the variance: the KL uses sigma^2 = exp(log_var).": _kl_sigma,
             "the gradient with respect to log_var misses the 1/2: dKL/dlog_var = (exp(log_var) - 1) / (2 N).":
                 lambda mu, lv: (kl_divergence(mu, lv)[0], mu / len(mu), (np.exp(lv) - 1) / len(mu)),
             "the gradient with respect to mu has the wrong sign: KL grows with mu^2, dKL/dmu = +mu / N.":
                 lambda mu, lv: (kl_divergence(mu, lv)[0], -mu / len(mu), kl_divergence(mu, lv)[2]),
         },
         output_names=("kl", "d_mu", "d_log_var"),
         title="the VAE's KL term and its gradients")


# ----------------------------------------------------------------------------- reparameterize
def reparameterize(mu, log_var, eps, dz):
    """The reparameterisation trick z = mu + exp(log_var / 2) * eps, and the gradients that flow
    back from dL/dz: dL/dmu = dz, dL/dlog_var = dz * eps * exp(log_var / 2) / 2.
    mu, log_var, eps, dz: (N, k) -> (z, d_mu, d_log_var), each (N, k)."""
    mu, log_var, eps, dz = (np.asarray(a, float) for a in (mu, log_var, eps, dz))
    sigma = np.exp(log_var / 2)
    return mu + sigma * eps, dz.copy(), dz * eps * sigma / 2


def _reparameterize_cases(rng):
    mu, lv, eps, dz = (rng.normal(size=(3, 2)) for _ in range(4))
    eps[0] = 0.0                     # no noise: z = mu and no gradient reaches log_var
    lv_partly_zero = rng.normal(size=(3, 2))
    lv_partly_zero[1] = 0.0           # sigma = 1
    return [Case(tuple(rng.normal(size=(4, 2)) for _ in range(4)), label="4 samples, 2 latent dimensions"),
            Case((mu, lv, eps, dz), label="the first sample drawn with eps = 0 (z = mu, d_log_var = 0)"),
            Case((rng.normal(size=(3, 2)), lv_partly_zero, rng.normal(size=(3, 2)), rng.normal(size=(3, 2))),
                 label="the second sample with log_var = 0 (sigma = 1)")]


Exercise(f"{LESSON}.reparameterize", reference=reparameterize, cases=_reparameterize_cases,
         mistakes={
             "exp(log_var) is the variance; the standard deviation is sigma = exp(log_var / 2).":
                 lambda mu, lv, eps, dz: (mu + np.exp(lv) * eps, dz, dz * eps * np.exp(lv)),
             "the 1/2 of d exp(log_var / 2) / dlog_var is missing: dL/dlog_var = dz * eps * exp(log_var / 2) / 2.":
                 lambda mu, lv, eps, dz: (mu + np.exp(lv / 2) * eps, dz, dz * eps * np.exp(lv / 2)),
             "eps is missing from dL/dlog_var: dz/dlog_var = eps * exp(log_var / 2) / 2.":
                 lambda mu, lv, eps, dz: (mu + np.exp(lv / 2) * eps, dz, dz * np.exp(lv / 2) / 2),
             "dL/dmu is dz itself (dz/dmu = 1), not scaled by sigma.":
                 lambda mu, lv, eps, dz: (mu + np.exp(lv / 2) * eps, dz * np.exp(lv / 2), dz * eps * np.exp(lv / 2) / 2),
         },
         output_names=("z", "d_mu", "d_log_var"),
         title="the reparameterisation trick and its gradients")
