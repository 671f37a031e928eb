"""Exercises of lesson 05_training: initialisation, optimizers, L2, dropout and early stopping.

The references reuse course_utils.nn (SGD, Adam, L2, EarlyStopping), whose update rules are Keras's
line for line, so a learner's function that passes here follows Keras's trajectory too.
"""
import numpy as np

from ..nn.callbacks import EarlyStopping
from ..nn.optimizers import SGD, Adam
from ..nn.regularizers import L2
from . import Case, Exercise

LESSON = "05_training"


# ----------------------------------------------------------------------------- glorot_uniform_limit
def glorot_uniform_limit(fan_in, fan_out):
    """Keras's default kernel initializer draws from U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
    fan_in, fan_out: numbers of inputs and units -> a number."""
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


Exercise(f"{LESSON}.glorot_uniform_limit", reference=glorot_uniform_limit,
         cases=[Case((64, 32), label="a 64 -> 32 layer"), Case((100, 100), label="100 -> 100"),
                Case((3, 10), label="3 -> 10"), Case((784, 10), label="784 -> 10")],
         mistakes={
             "that is He's limit, sqrt(6 / fan_in), meant for ReLU; Glorot averages the two fans: "
             "sqrt(6 / (fan_in + fan_out)).": lambda fan_in, fan_out: float(np.sqrt(6.0 / fan_in)),
             "the square root is missing: limit = sqrt(6 / (fan_in + fan_out)).":
                 lambda fan_in, fan_out: 6.0 / (fan_in + fan_out),
             "sqrt(2 / (fan_in + fan_out)) is the standard deviation Glorot wants; a uniform U(-a, a) has "
             "standard deviation a / sqrt(3), so the limit is sqrt(6 / (fan_in + fan_out)).":
                 lambda fan_in, fan_out: float(np.sqrt(2.0 / (fan_in + fan_out))),
         },
         output_names=("limit",),
         title="the limit of Keras's glorot_uniform initializer")


# ----------------------------------------------------------------------------- sgd_momentum_update
def sgd_momentum_update(w, g, m, lr, momentum):
    """One step of SGD with momentum in Keras's form (via course_utils.nn.SGD):
        m <- momentum * m - lr * g;   w <- w + m.
    w, g, m: arrays of the same shape; lr, momentum: numbers -> (w_new, m_new)."""
    w_new = np.array(w, dtype=np.float64)
    optimizer = SGD(learning_rate=lr, momentum=momentum)
    optimizer._slot(w_new, "momentum")[...] = m       # start from the given velocity
    optimizer.apply_gradients([(np.asarray(g, dtype=np.float64), w_new)])
    return w_new, optimizer._slot(w_new, "momentum").copy()


def _momentum_cases(rng):
    return [Case((rng.normal(size=3), rng.normal(size=3), np.zeros(3), 0.1, 0.9), label="the first step (m = 0)"),
            Case((rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.1 * rng.normal(size=(2, 3)), 0.05, 0.9),
                 label="a later step (m != 0)"),
            Case((rng.normal(size=4), rng.normal(size=4), 0.1 * rng.normal(size=4), 0.01, 0.5),
                 label="momentum = 0.5")]


Exercise(f"{LESSON}.sgd_momentum_update", reference=sgd_momentum_update, cases=_momentum_cases,
         mistakes={
             "the velocity has the opposite sign: in Keras's form m = momentum * m - lr * g "
             "(it points downhill) and w = w + m.":
                 lambda w, g, m, lr, mu: (w - (mu * m + lr * g), mu * m + lr * g),
             "w moves with the old velocity: first m = momentum * m - lr * g, then w = w + m with that new m.":
                 lambda w, g, m, lr, mu: (w + m, mu * m - lr * g),
             "that is the other textbook form (v = momentum * v + g, w = w - lr * v); Keras's form puts the "
             "learning rate inside the velocity: m = momentum * m - lr * g, w = w + m.":
                 lambda w, g, m, lr, mu: (w - lr * (mu * m + g), mu * m + g),
         },
         output_names=("w_new", "m_new"),
         title="one step of SGD with momentum, in Keras's form")


# ----------------------------------------------------------------------------- adam_update
def adam_update(w, g, m, v, t, lr, beta_1, beta_2, eps):
    """One Adam step in Keras's form (via course_utils.nn.Adam), t = 1, 2, ... the step number:
        m <- m + (1 - beta_1)(g - m)            v <- v + (1 - beta_2)(g^2 - v)
        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w <- w - alpha * m / (sqrt(v) + eps)
    w, g, m, v: arrays of the same shape; t: int >= 1; the rest numbers -> (w_new, m_new, v_new)."""
    w_new = np.array(w, dtype=np.float64)
    optimizer = Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps)
    optimizer.iterations = int(t) - 1                  # Keras's t = iterations + 1
    optimizer._slot(w_new, "m")[...] = m
    optimizer._slot(w_new, "v")[...] = v
    optimizer.apply_gradients([(np.asarray(g, dtype=np.float64), w_new)])
    return w_new, optimizer._slot(w_new, "m").copy(), optimizer._slot(w_new, "v").copy()


def _adam_cases(rng):
    return [Case((rng.normal(size=3), np.abs(rng.normal(size=3)) + 0.1, np.zeros(3), np.zeros(3), 1, 0.001, 0.9,
                  0.999, 1e-7),
                 label="the first step (t = 1, m = v = 0)"),
            Case((rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.1 * rng.normal(size=(2, 3)),
                  0.5 * rng.random(size=(2, 3)), 5, 0.01, 0.9, 0.999, 1e-7), label="step t = 5"),
            Case((rng.normal(size=4), rng.normal(size=4), 0.1 * rng.normal(size=4), rng.random(size=4),
                  30, 0.1, 0.8, 0.99, 1e-7), label="t = 30, other betas"),
            Case((rng.normal(size=(3, 2)), 1e-3 * rng.normal(size=(3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), 1,
                  0.01, 0.9, 0.999, 1e-3), label="eps = 1e-3 against gradients of 1e-3 (eps matters)")]


def _adam_no_bias_correction(w, g, m, v, t, lr, b1, b2, eps):
    m = m + (1 - b1) * (g - m)
    v = v + (1 - b2) * (g * g - v)
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_v_of_g(w, g, m, v, t, lr, b1, b2, eps):
    m = m + (1 - b1) * (g - m)
    v = v + (1 - b2) * (g - v)
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    with np.errstate(invalid="ignore"):
        return w - alpha * m / (np.sqrt(v) + eps), m, v


def _adam_swapped_weights(w, g, m, v, t, lr, b1, b2, eps):
    m = (1 - b1) * m + b1 * g
    v = (1 - b2) * v + b2 * g * g
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def _adam_old_moments(w, g, m, v, t, lr, b1, b2, eps):
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    w_new = w - alpha * m / (np.sqrt(v) + eps)
    return w_new, m + (1 - b1) * (g - m), v + (1 - b2) * (g * g - v)


Exercise(f"{LESSON}.adam_update", reference=adam_update, cases=_adam_cases,
         mistakes={
             "the bias correction is missing: the step size is alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), "
             "which makes the first steps as large as the later ones.": _adam_no_bias_correction,
             "v must average the SQUARED gradient: v = v + (1 - beta_2) * (g**2 - v).": _adam_v_of_g,
             "the weights of the averages are swapped: the old value keeps the large weight, "
             "m = beta_1 * m + (1 - beta_1) * g (likewise v with beta_2).": _adam_swapped_weights,
             "w is moved with the old m and v: update m and v with this step's gradient first, then w.":
                 _adam_old_moments,
         },
         output_names=("w_new", "m_new", "v_new"),
         title="one Adam step, in Keras's form")


# ----------------------------------------------------------------------------- l2_penalty_gradient
def l2_penalty_gradient(w, l2):
    """Keras's L2 regularizer (via course_utils.nn.L2): penalty = l2 * sum(w^2), gradient = 2 * l2 * w.
    w: array (any shape); l2: number -> (penalty: number, gradient: same shape as w)."""
    regularizer = L2(l2)
    return float(regularizer(w)), regularizer.gradient(w)


def _l2_cases(rng):
    return [Case((rng.normal(size=(3, 2)), 0.01), label="a (3, 2) kernel, l2 = 0.01"),
            Case((rng.normal(size=(4, 5)), 0.5), label="a (4, 5) kernel, l2 = 0.5"),
            Case((rng.normal(size=6), 1e-3), label="a bias vector")]


Exercise(f"{LESSON}.l2_penalty_gradient", reference=l2_penalty_gradient, cases=_l2_cases,
         mistakes={
             "the factor 2 is missing from the gradient: d/dw (l2 * w^2) = 2 * l2 * w.":
                 lambda w, l2: (l2 * np.sum(w ** 2), l2 * w),
             "that is the textbook (l2 / 2) * sum(w^2); Keras's L2 has no 1/2: penalty = l2 * sum(w^2), "
             "gradient = 2 * l2 * w.":
                 lambda w, l2: (0.5 * l2 * np.sum(w ** 2), l2 * w),
             "the penalty averages w^2; Keras sums it over every weight: l2 * np.sum(w**2).":
                 lambda w, l2: (l2 * np.mean(w ** 2), 2 * l2 * w / w.size),
         },
         output_names=("penalty", "gradient"),
         title="the L2 penalty of a weight array and its gradient")


# ----------------------------------------------------------------------------- dropout_forward
def dropout_forward(x, rate, u):
    """Inverted dropout while training: keep x where u >= rate, scale the kept values by 1 / (1 - rate).
    x: array; rate: number in [0, 1); u: uniform [0, 1) numbers, same shape as x -> same shape as x."""
    return x * (u >= rate) / (1.0 - rate)


def _dropout_cases(rng):
    return [Case((rng.normal(size=(4, 5)), 0.5, rng.random(size=(4, 5))), label="rate = 0.5"),
            Case((rng.normal(size=(3, 6)), 0.2, rng.random(size=(3, 6))), label="rate = 0.2"),
            Case((rng.normal(size=(2, 3)), 0.0, np.array([[0.0, 0.3, 0.9], [0.5, 0.0, 0.1]])),
                 label="rate = 0 (keep all, u = 0 included)"),
            Case((rng.normal(size=(2, 4)), 0.5, np.array([[0.5, 0.2, 0.7, 0.5], [0.49, 0.5, 0.9, 0.1]])),
                 label="u exactly equal to rate is kept (u >= rate)")]


Exercise(f"{LESSON}.dropout_forward", reference=dropout_forward, cases=_dropout_cases,
         mistakes={
             "the kept values are not scaled: divide them by (1 - rate), so that the expected output "
             "equals the input and nothing changes at inference.":
                 lambda x, rate, u: x * (u >= rate),
             "the wrong units are kept: a unit is dropped with probability rate, i.e. kept where u >= rate.":
                 lambda x, rate, u: x * (u < rate) / (1.0 - rate),
             "the kept values are multiplied by (1 - rate); inverted dropout DIVIDES by (1 - rate) "
             "while training.":
                 lambda x, rate, u: x * (u >= rate) * (1.0 - rate),
         },
         output_names=("output",),
         title="inverted dropout with a given array of uniform random numbers")


# ----------------------------------------------------------------------------- early_stopping_epoch
def early_stopping_epoch(val_losses, patience):
    """The epoch (0-based) after which keras.callbacks.EarlyStopping(patience=patience) stops
    training, given the validation loss of every epoch; the last epoch if it never stops.
    (Via course_utils.nn.EarlyStopping, which follows Keras: an epoch improves when its loss is below
    the best so far; training stops when `patience` epochs in a row have not improved.)
    val_losses: (E,) array -> a number."""
    callback = EarlyStopping(monitor="val_loss", patience=patience)
    callback.on_train_begin(model=None)
    for epoch, loss in enumerate(val_losses):
        if callback.on_epoch_end(epoch, {"val_loss": float(loss)}):
            return epoch
    return len(val_losses) - 1


def _early_stopping_mistake(one_epoch_late=False, against_previous=False, never_reset=False):
    """early_stopping_epoch with one slip: it stops when wait > patience, compares each epoch with the
    previous one instead of the best, or never restarts the count of epochs without improvement."""
    def run(val_losses, patience):
        best, wait = np.inf, 0
        for epoch, loss in enumerate(val_losses):
            improved = loss < best
            if improved or against_previous:
                best = loss
            if improved:
                wait = wait if never_reset else 0
                continue
            wait += 1
            if wait > patience if one_epoch_late else wait >= patience:
                return epoch
        return len(val_losses) - 1
    return run


Exercise(f"{LESSON}.early_stopping_epoch", reference=early_stopping_epoch,
         cases=[Case((np.array([1.0, 0.8, 0.9, 0.85, 0.95, 0.97, 0.99, 1.0]), 2),
                     label="patience 2, best at epoch 1"),
                Case((np.array([1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.7, 0.75]), 2),
                     label="patience 2, improving now and then"),
                Case((np.array([1.0, 0.9, 0.8, 0.7, 0.6]), 3), label="always improving"),
                Case((np.array([1.0, 0.9, 0.95, 0.8]), 0), label="patience 0"),
                Case((np.array([1.0, 0.8, 0.8, 0.8, 0.7, 0.6]), 2),
                     label="a tie is no improvement (loss < best, not <=)")],
         mistakes={
             "off by one: stop as soon as `patience` epochs in a row have not improved (wait >= patience), "
             "not one epoch later.": _early_stopping_mistake(one_epoch_late=True),
             "each epoch is compared with the previous one; compare it with the BEST loss so far.":
                 _early_stopping_mistake(against_previous=True),
             "the count of epochs without improvement must restart at 0 whenever an epoch improves.":
                 _early_stopping_mistake(never_reset=True),
         },
         output_names=("stop_epoch",),
         title="the epoch at which early stopping ends training")
