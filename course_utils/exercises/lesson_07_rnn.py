"""Exercises of lesson 07_rnn: recurrent networks, backpropagation through time, LSTM, GRU, sampling.

    rnn_step(x_t, h_prev, Wx, Wh, b)                 h_t = tanh(x_t Wx + h_prev Wh + b)
    rnn_forward(x, h0, Wx, Wh, b)                    every h_t of a sequence: (N, T, units)
    rnn_step_backward(dh, x_t, h_prev, h, Wx, Wh)    (dx_t, dh_prev, dWx, dWh, db) of one step
    lstm_step(x_t, h_prev, c_prev, W, U, b)          (h_t, c_t), Keras's gate order i, f, c, o
    gru_step(x_t, h_prev, W, U, b)                   h_t, Keras's GRU (z, r, h; reset_after=True)
    sample_with_temperature(logits, temperature, u)  the index drawn from softmax(logits / T) with u

Shapes: x_t ``(N, F)`` (one time step of a batch), h_prev / c_prev ``(N, units)``, a sequence x
``(N, T, F)``; weights in Keras's layout (SimpleRNN: Wx ``(F, units)``, Wh ``(units, units)``,
b ``(units,)``; LSTM: W ``(F, 4 units)``, U ``(units, 4 units)``, b ``(4 units,)``; GRU: W
``(F, 3 units)``, U ``(units, 3 units)``, b ``(2, 3 units)``). The references run the course's
NumPy layers (course_utils.nn), which are verified against Keras.
"""
import numpy as np

from .. import nn
from ..nn import activations
from . import Case, Exercise

_tanh = activations.tanh
_sigmoid = activations.sigmoid


def _layer(cls, weights, features, **kwargs):
    layer = cls(weights[1].shape[0], **kwargs)
    layer.build((None, 1, features))
    layer.set_weights(weights)
    return layer


# ---------------------------------------------------------------------- rnn_step
def rnn_step(x_t, h_prev, Wx, Wh, b):
    """One step of a SimpleRNN: h_t = tanh(x_t Wx + h_prev Wh + b).
    x_t (N, F), h_prev (N, u), Wx (F, u), Wh (u, u), b (u,) -> h_t (N, u)."""
    layer = _layer(nn.SimpleRNN, [Wx, Wh, b], x_t.shape[-1])
    return layer.forward(x_t[:, None, :], initial_state=[h_prev])


def _rnn_weights(rng, n, f, u, scale=0.7):
    return (rng.normal(size=(n, f)), rng.normal(size=(n, u)) * 0.5, rng.normal(size=(f, u)) * scale,
            rng.normal(size=(u, u)) * scale, rng.normal(size=u) * 0.3)


def _step_cases(rng):
    return [Case(_rnn_weights(rng, 2, 3, 4), label="a batch of 2, 3 features, 4 units"),
            Case(_rnn_weights(rng, 5, 1, 3), label="a batch of 5, 1 feature, 3 units")]


Exercise("07_rnn.rnn_step", reference=rnn_step, cases=_step_cases,
         mistakes={"the activation is missing: h_t = tanh(x_t Wx + h_prev Wh + b)":
                       lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh + b,
                   "the recurrence is missing: add h_prev @ Wh, the previous state's contribution":
                       lambda x, h, Wx, Wh, b: _tanh(x @ Wx + b),
                   "Wh is transposed: the state is a row vector, so it is h_prev @ Wh (rows of Wh = previous units)":
                       lambda x, h, Wx, Wh, b: _tanh(x @ Wx + h @ Wh.T + b),
                   "the bias b is missing": lambda x, h, Wx, Wh, b: _tanh(x @ Wx + h @ Wh)},
         title="one step of a SimpleRNN")


# ---------------------------------------------------------------------- rnn_forward
def rnn_forward(x, h0, Wx, Wh, b):
    """Every hidden state of a SimpleRNN over a sequence, starting from h0:
    h_t = tanh(x_t Wx + h_{t-1} Wh + b) for t = 1..T.
    x (N, T, F), h0 (N, u) -> hs (N, T, u) with hs[:, t] the state after reading x[:, t]."""
    layer = _layer(nn.SimpleRNN, [Wx, Wh, b], x.shape[-1], return_sequences=True)
    return layer.forward(x, initial_state=[h0])


def _forward_same_h0(x, h0, Wx, Wh, b):
    return np.stack([_tanh(x[:, t] @ Wx + h0 @ Wh + b) for t in range(x.shape[1])], axis=1)


def _forward_shifted(x, h0, Wx, Wh, b):
    hs, h = [], h0
    for t in range(x.shape[1]):
        hs.append(h)
        h = _tanh(x[:, t] @ Wx + h @ Wh + b)
    return np.stack(hs, axis=1)


def _forward_reversed(x, h0, Wx, Wh, b):
    return rnn_forward(x[:, ::-1], h0, Wx, Wh, b)


def _forward_cases(rng):
    cases = []
    for n, t, f, u in [(2, 5, 3, 4), (3, 4, 1, 2)]:
        _, h0, Wx, Wh, b = _rnn_weights(rng, n, f, u)
        cases.append(Case((rng.normal(size=(n, t, f)), h0, Wx, Wh, b),
                          label=f"a batch of {n} sequences of {t} steps"))
    return cases


Exercise("07_rnn.rnn_forward", reference=rnn_forward, cases=_forward_cases,
         mistakes={"every step starts again from h0: carry h forward, h = tanh(x_t Wx + h Wh + b)":
                       _forward_same_h0,
                   "off by one: hs[:, t] is the state AFTER reading x[:, t] (store h after updating it)":
                       _forward_shifted,
                   "the sequence is read backwards: step t reads x[:, t], t = 0, 1, ..., T-1":
                       _forward_reversed},
         title="a SimpleRNN over a whole sequence")


# ---------------------------------------------------------------------- rnn_step_backward
def rnn_step_backward(dh, x_t, h_prev, h, Wx, Wh):
    """Backward through one SimpleRNN step h = tanh(a), a = x_t Wx + h_prev Wh + b, given
    dh = dL/dh (everything that reaches h_t):
        da = dh * (1 - h^2);  dx_t = da Wx^T;  dh_prev = da Wh^T;
        dWx = x_t^T da;  dWh = h_prev^T da;  db = sum over the batch of da.
    dh, h, h_prev (N, u); x_t (N, F) -> (dx_t (N, F), dh_prev (N, u), dWx (F, u), dWh (u, u), db (u,))."""
    da = activations.get("tanh").backward(None, h, dh)
    return da @ Wx.T, da @ Wh.T, x_t.T @ da, h_prev.T @ da, da.sum(axis=0)


def _backward_cases(rng):
    cases = []
    for n, f, u in [(3, 2, 4), (2, 3, 3)]:
        x, h_prev, Wx, Wh, b = _rnn_weights(rng, n, f, u)
        h = _tanh(x @ Wx + h_prev @ Wh + b)
        cases.append(Case((rng.normal(size=(n, u)), x, h_prev, h, Wx, Wh), label=f"a batch of {n}, {u} units"))
    return cases


def _backward_with(da_fn, wh=lambda Wh: Wh.T, db=lambda da: da.sum(axis=0)):
    def wrong(dh, x, h_prev, h, Wx, Wh):
        da = da_fn(dh, h, h_prev)
        return da @ Wx.T, da @ wh(Wh), x.T @ da, h_prev.T @ da, db(da)
    return wrong


Exercise("07_rnn.rnn_step_backward", reference=rnn_step_backward, cases=_backward_cases,
         mistakes={"tanh's derivative is missing: da = dh * (1 - h**2) before the products":
                       _backward_with(lambda dh, h, hp: dh),
                   "tanh' is taken at the wrong state: it is 1 - h**2 with h this step's OUTPUT h_t, not h_prev":
                       _backward_with(lambda dh, h, hp: dh * (1 - hp ** 2)),
                   "dh_prev needs Wh transposed: a = h_prev Wh + ..., so dh_prev = da @ Wh.T":
                       _backward_with(lambda dh, h, hp: dh * (1 - h ** 2), wh=lambda Wh: Wh),
                   "db must be summed over the batch (axis=0): the same bias serves every example":
                       _backward_with(lambda dh, h, hp: dh * (1 - h ** 2), db=lambda da: da)},
         output_names=("dx_t", "dh_prev", "dWx", "dWh", "db"),
         title="backpropagation through one SimpleRNN step")


# ---------------------------------------------------------------------- lstm_step
def lstm_step(x_t, h_prev, c_prev, W, U, b):
    """One LSTM step with Keras's layout: a = x_t W + h_prev U + b = [a_i, a_f, a_c, a_o] (blocks of u),
        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_c), o = sigmoid(a_o),
        c_t = f * c_prev + i * g,   h_t = o * tanh(c_t).
    x_t (N, F), h_prev, c_prev (N, u), W (F, 4u), U (u, 4u), b (4u,) -> (h_t (N, u), c_t (N, u))."""
    layer = _layer(nn.LSTM, [W, U, b], x_t.shape[-1], return_state=True)
    _, h, c = layer.forward(x_t[:, None, :], initial_state=[h_prev, c_prev])
    return h, c


def _lstm_parts(x, h_prev, W, U, b):
    a = x @ W + h_prev @ U + b
    return np.split(a, 4, axis=-1)


def _lstm_mistake(blocks="ifco", candidate=_tanh, input_gate=True, cell_tanh=True):
    """lstm_step with one slip: the blocks of a read in another order, the candidate g through another
    activation, the input gate left out of c_t, or h_t = o * c_t without the tanh."""
    def run(x, h_prev, c_prev, W, U, b):
        a = dict(zip(blocks, _lstm_parts(x, h_prev, W, U, b)))
        g = candidate(a["c"])
        c = _sigmoid(a["f"]) * c_prev + (_sigmoid(a["i"]) * g if input_gate else g)
        return _sigmoid(a["o"]) * (_tanh(c) if cell_tanh else c), c
    return run


def _lstm_cases(rng):
    cases = []
    for n, f, u in [(2, 3, 2), (4, 2, 3)]:
        cases.append(Case((rng.normal(size=(n, f)), rng.normal(size=(n, u)) * 0.5, rng.normal(size=(n, u)),
                           rng.normal(size=(f, 4 * u)), rng.normal(size=(u, 4 * u)) * 0.7,
                           rng.normal(size=4 * u) * 0.5), label=f"a batch of {n}, {u} units"))
    return cases


Exercise("07_rnn.lstm_step", reference=lstm_step, cases=_lstm_cases,
         mistakes={"the gate blocks are in the wrong order: Keras's columns are i, f, c (candidate), o":
                       _lstm_mistake(blocks="ifoc"),
                   "h_t = o * tanh(c_t): the cell state goes through tanh before the output gate":
                       _lstm_mistake(cell_tanh=False),
                   "the input gate is missing: c_t = f * c_prev + i * g": _lstm_mistake(input_gate=False),
                   "the candidate g uses tanh, not sigmoid (only the gates i, f, o use sigmoid)":
                       _lstm_mistake(candidate=_sigmoid)},
         output_names=("h", "c"),
         title="one LSTM step (gates i, f, c, o)")


# ---------------------------------------------------------------------- gru_step
def gru_step(x_t, h_prev, W, U, b):
    """One GRU step as Keras's default (reset_after=True); b[0] is the input bias, b[1] the recurrent one:
        [x_z, x_r, x_h] = x_t W + b[0],    [m_z, m_r, m_h] = h_prev U + b[1]
        z = sigmoid(x_z + m_z),  r = sigmoid(x_r + m_r),  hh = tanh(x_h + r * m_h)
        h_t = z * h_prev + (1 - z) * hh
    x_t (N, F), h_prev (N, u), W (F, 3u), U (u, 3u), b (2, 3u) -> h_t (N, u)."""
    return _layer(nn.GRU, [W, U, b], x_t.shape[-1]).forward(x_t[:, None, :], initial_state=[h_prev])


def _gru_variant(x, h, W, U, b, swap_z=False, reset_before=False, no_recurrent_bias=False):
    u = h.shape[-1]
    x_z, x_r, x_h = np.split(x @ W + b[0], 3, axis=-1)
    b_h = np.zeros_like(b[1]) if no_recurrent_bias else b[1]
    m_z, m_r, m_h = np.split(h @ U + b_h, 3, axis=-1)
    z, r = _sigmoid(x_z + m_z), _sigmoid(x_r + m_r)
    if reset_before:
        hh = _tanh(x_h + (r * h) @ U[:, 2 * u:] + b_h[2 * u:])
    else:
        hh = _tanh(x_h + r * m_h)
    return (1 - z) * h + z * hh if swap_z else z * h + (1 - z) * hh


def _gru_cases(rng):
    cases = []
    for n, f, u in [(2, 3, 2), (3, 2, 4)]:
        cases.append(Case((rng.normal(size=(n, f)), rng.normal(size=(n, u)), rng.normal(size=(f, 3 * u)),
                           rng.normal(size=(u, 3 * u)) * 0.7, rng.normal(size=(2, 3 * u)) * 0.5),
                          label=f"a batch of {n}, {u} units"))
    return cases


Exercise("07_rnn.gru_step", reference=gru_step, cases=_gru_cases,
         mistakes={"z and 1 - z are swapped: in Keras z keeps the OLD state, h_t = z * h_prev + (1 - z) * hh "
                   "(some papers write it the other way round)":
                       lambda x, h, W, U, b: _gru_variant(x, h, W, U, b, swap_z=True),
                   "the reset gate is applied before the product (reset_after=False); Keras's default multiplies "
                   "after it: hh = tanh(x_h + r * (h_prev U_h + b[1]_h))":
                       lambda x, h, W, U, b: _gru_variant(x, h, W, U, b, reset_before=True),
                   "the recurrent bias b[1] is missing: it is added to h_prev @ U":
                       lambda x, h, W, U, b: _gru_variant(x, h, W, U, b, no_recurrent_bias=True)},
         title="one GRU step (Keras's reset_after=True)")


# ---------------------------------------------------------------------- sample_with_temperature
def sample_with_temperature(logits, temperature, u):
    """The index drawn from p = softmax(logits / temperature) with the uniform number u in [0, 1):
    the smallest k with p_0 + ... + p_k > u (the inverse of the cumulative distribution).
    logits (V,), temperature > 0, u in [0, 1) -> an int in [0, V)."""
    p = activations.softmax(np.asarray(logits, dtype=np.float64) / temperature)
    k = int(np.searchsorted(np.cumsum(p), u, side="right"))
    return min(k, len(p) - 1)  # u just below 1 and a cumulative sum rounded below 1


def _sample_wrong(scale_logits):
    def wrong(logits, temperature, u):
        p = activations.softmax(scale_logits(np.asarray(logits, dtype=np.float64), temperature))
        return min(int(np.searchsorted(np.cumsum(p), u, side="right")), len(p) - 1)
    return wrong


def _sample_cases(rng):
    return [Case((np.array([2.0, 1.0, 0.5, -1.0]), 0.5, 0.95), label="T = 0.5, u = 0.95"),
            Case((np.array([0.0, 3.0, 1.0]), 0.5, 0.2), label="T = 0.5, u = 0.2"),
            Case((np.zeros(4), 1.0, 0.5), label="u exactly at a cumulative probability (0.25 + 0.25): "
                                                   "the smallest k with p_0 + ... + p_k > u"),
            Case((rng.normal(size=27) * 2, 2.0, float(rng.random())), label="27 characters, T = 2"),
            Case((rng.normal(size=27) * 2, 0.7, float(rng.random())), label="27 characters, T = 0.7"),
            Case((np.array([3.0, 2.0, 1.0, 2.5]), 0.002, 0.5), strict_fp=True,
                 label="T = 0.002 (logits / T ~ 1500): the softmax must not overflow (run under np.errstate(over='raise'))"),
            Case((np.array([-1.28, -0.71, 0.62, -2.25, 0.39]), 1.0, float(np.nextafter(1.0, 0.0))),
                 label="u -> 1 (the largest float below 1) above the rounded cumulative sum 0.9999999999999998: "
                       "the last index, never one past the end")]


Exercise("07_rnn.sample_with_temperature", reference=sample_with_temperature, cases=_sample_cases,
         mistakes={"the logits are multiplied by the temperature; divide them: softmax(logits / T)":
                       _sample_wrong(lambda z, t: z * t),
                   "the temperature is not used: p = softmax(logits / temperature)":
                       _sample_wrong(lambda z, t: z),
                   "this is the most likely index (argmax, greedy decoding); draw with u: the smallest k "
                   "whose cumulative probability exceeds u":
                       lambda logits, temperature, u: int(np.argmax(logits))},
         title="sampling a character with a temperature")
