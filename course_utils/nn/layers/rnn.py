"""Recurrent layers, as Keras groups them in ``keras/src/layers/rnn``: SimpleRNN, LSTM and GRU with
backpropagation through time (BPTT), and ``TimeDistributed`` (one layer applied at every time step).

Arguments, defaults and weight layout as ``keras.layers.SimpleRNN`` / ``LSTM`` / ``GRU``, so that
weights move between the two by a plain copy:

=========  ===================  =========================  ==============================
layer      kernel               recurrent_kernel           bias
=========  ===================  =========================  ==============================
SimpleRNN  (features, units)    (units, units)             (units,)
LSTM       (features, 4 units)  (units, 4 units)           (4 units,)     gates i, f, c, o
GRU        (features, 3 units)  (units, 3 units)           (2, 3 units) with reset_after=True
                                                           (3 units,)   with reset_after=False
                                                           gates z, r, h
=========  ===================  =========================  ==============================

Shapes: x ``(batch, timesteps, features)``; the output is the last hidden state ``(batch, units)``,
or every hidden state ``(batch, timesteps, units)`` with ``return_sequences=True``; with
``return_state=True`` the layer returns a list ``[output, h]`` (LSTM: ``[output, h, c]``), as Keras.

How the code is organised (the same for the three layers):

- the input part of every pre-activation, ``x_t W + b`` for all time steps, is one matrix product
  before the loop over time (only ``h_{t-1} U`` must wait for the previous step);
- arrays are kept time-major, ``(timesteps, batch, ...)``, so that each step reads contiguous memory;
- ``backward`` walks the time steps in reverse carrying ``dh`` (and ``dc``), stores the gradient of
  every pre-activation, and then gets ``dW``, ``dU``, ``db`` and ``dx`` with one matrix product each
  (a gradient summed over time steps is a sum over the rows of a stacked matrix).

Loops run over time steps only, never over the batch or the units. During forward and backward,
BLAS runs on one thread (the per-step products are too small to gain from more; see
``course_utils.nn.threads``).

After ``backward``: ``grads`` (Keras's ``trainable_weights`` order), ``dinitial_state`` (a list:
the gradient of each initial state, the zeros default or the given one) and ``dh_sequence``
``(N, T, units)``: dL/dh_t, the gradient that reaches each step's state - what vanishes in a long
sequence (its steps in the order they were processed, i.e. reversed with ``go_backwards``).
"""
from __future__ import annotations

import contextlib
import inspect

import numpy as np

from .. import activations, initializers
from ..base import LAYER_REGISTRY, ActivationAttribute, InputSpec, Layer, positive_int, shape_str
from ..threads import one_blas_thread


@contextlib.contextmanager
def _loop_numerics():
    """One BLAS thread, and exp() allowed to overflow to inf inside the activations (where it gives
    the right limit: sigmoid(-1000) = 1 / (1 + inf) = 0)."""
    with one_blas_thread(), np.errstate(over="ignore"):
        yield


def _activate(activation, z, out):
    """out[...] = activation(z), in place; sigmoid and tanh through exp(), which NumPy computes
    2-3x faster than tanh() (the activations are most of an LSTM step's time):

        sigmoid(z) = 1 / (1 + exp(-z))          tanh(z) = 2 / (1 + exp(-2 z)) - 1 = 2 sigmoid(2 z) - 1
    """
    if activation.name == "sigmoid":
        np.negative(z, out=out)
        np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
    elif activation.name == "tanh":
        np.multiply(z, -2, out=out)
        np.exp(out, out=out)
        out += 1
        np.divide(2, out, out=out)
        out -= 1
    else:
        out[...] = activation.forward(z)
    return out


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, input and state checks, output packing,
    the unpacking of ``dout`` in ``backward`` and the Keras config. Not used on its own."""

    state_names: tuple = ("h",)     # LSTM: ("h", "c")
    keras_arguments_not_supported = {
        f"{weight}_{option}": ((None,), f"a {'penalty on' if option == 'regularizer' else 'constraint on'} the {what}")
        for weight, what in (("kernel", "kernel"), ("recurrent", "recurrent kernel"), ("bias", "bias"))
        for option in ("regularizer", "constraint")
    }
    # assignable after construction (a name, None or an Activation), as the Keras attributes
    activation = ActivationAttribute()
    n_gates: int = 1                # columns of kernel = n_gates * units
    # (batch, timesteps, features) in the weights' dtype; build adds the number of features (axes={-1: F})
    input_spec = InputSpec(ndim=3, dtype="compute")

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        kind = type(self).__name__
        for arg, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(value, (int, float, np.floating)) or value != 0:
                raise ValueError(f"The NumPy {kind} has no {arg}; received {arg}={value!r}. Use {arg}=0.0 "
                                 f"(or put a Dropout layer between layers).")
        if stateful:
            raise ValueError(f"The NumPy {kind} does not keep states between batches; received "
                             f"stateful={stateful!r}. Use stateful=False and pass initial_state= explicitly.")
        self.dropout = 0.0
        self.recurrent_dropout = 0.0
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # Keras's graph-building choice; the numbers are the same
        self.seed = seed            # Keras uses it for dropout masks only
        self.dinitial_state = None
        self.dh_sequence = None
        self._cache = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"Layer '{self.name}' expected input of rank 3 (batch, timesteps, features), "
                             f"received shape {shape_str(input_shape)}.")
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"Layer '{self.name}' needs to know the number of features (the last "
                             f"dimension) to build its kernel; received input shape {shape_str(input_shape)}.")
        u, g = self.units, self.n_gates
        self.add_weight("kernel", (features, g * u), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (u, g * u), self.recurrent_initializer)
        self.bias = None
        if self.use_bias:
            initial_bias = np.asarray(self._initial_bias(self.compute_dtype))
            self.add_weight("bias", initial_bias.shape, lambda shape, dtype: initial_bias.astype(dtype))
        self.input_spec = InputSpec(ndim=3, dtype="compute", axes={-1: features})   # any batch, any length
        super().build(input_shape)

    def _initial_bias(self, dtype):
        return self.bias_initializer((self.n_gates * self.units,), dtype=dtype)

    def compute_output_shape(self, input_shape):
        batch, timesteps = input_shape[0], input_shape[1]
        output = (batch, timesteps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units) for _ in self.state_names]
        return output

    # ------------------------------------------------------------ input checks
    def _check_input_spec(self, x):
        """The input spec's checks (rank 3, the features built for), with an RNN's advice for a rank 1 or
        2 array, and at least one time step."""
        kind = type(self).__name__
        x_arr = x if isinstance(x, np.ndarray) else np.asarray(x)
        if x_arr.ndim in (1, 2) and np.issubdtype(x_arr.dtype, np.number):
            raise ValueError(
                f"{kind} '{self.name}' expected input of rank 3 (batch, timesteps, features), received shape "
                f"{shape_str(x_arr.shape)}. An RNN reads sequences: for one sequence of shape "
                f"(timesteps, features) use x[None]; for one feature per time step use x[..., None].")
        x = super()._check_input_spec(x)
        if x.shape[1] == 0:
            raise ValueError(f"{kind} '{self.name}' received a sequence with 0 time steps "
                             f"(shape {shape_str(x.shape)}); it needs at least one.")
        return x

    def _axis_size_error(self, x, axis, size, what="input"):
        return (f"{type(self).__name__} '{self.name}' expected input with {size} features (last dimension), "
                f"as it was built for input shape {shape_str((None, None, size))}; received "
                f"shape {shape_str(x.shape)}.")

    def _prepare(self, x, initial_state):
        """x (checked by the input spec) time-major ``(T, N, F)`` (reversed in time with go_backwards)
        and the initial states, checked, each ``(N, units)``, all in the weights' dtype."""
        kind = type(self).__name__
        dtype = self.kernel.dtype
        batch = x.shape[0]
        xs = x.transpose(1, 0, 2)
        if self.go_backwards:
            xs = xs[::-1]
        xs = np.ascontiguousarray(xs, dtype=dtype)
        names = ", ".join(self.state_names)
        expected = f"(batch, units) = {shape_str((batch, self.units))}"
        if initial_state is None:
            states = [np.zeros((batch, self.units), dtype=dtype) for _ in self.state_names]
        else:
            if isinstance(initial_state, np.ndarray) or not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            if len(initial_state) != len(self.state_names):
                raise ValueError(
                    f"{kind} '{self.name}' expects initial_state as a list of {len(self.state_names)} "
                    f"array{'s' if len(self.state_names) > 1 else ''} [{names}], each of shape {expected}; "
                    f"received a list of {len(initial_state)}.")
            states = []
            for name, s in zip(self.state_names, initial_state):
                s = self._as_input(s, what=f"initial state '{name}'")
                if s.shape != (batch, self.units):
                    raise ValueError(f"{kind} '{self.name}' expects the initial state '{name}' of shape {expected}; "
                                     f"received shape {shape_str(s.shape)}.")
                states.append(np.array(s, dtype=dtype))
        return xs, states

    def _input_part(self, xs, bias):
        """x_t W + b for every time step in one matrix product: (T, N, F) -> (T, N, G)."""
        T, N, F = xs.shape
        a = (xs.reshape(T * N, F) @ self.kernel).reshape(T, N, -1)
        if bias is not None:
            a += bias
        return a

    def _outputs(self, hs, states):
        """Keras's outputs from the stacked hidden states ``hs`` (T + 1, N, u) (hs[0] = h_0)."""
        seen = getattr(self, "_seen", None)   # with a mask: zeros before the first unmasked step
        if self.return_sequences:
            output = np.ascontiguousarray((hs[1:] if seen is None else hs[1:] * seen).transpose(1, 0, 2))
        else:
            output = hs[-1].copy() if seen is None else hs[-1] * seen[-1]
        if self.return_state:
            return [output] + [s.copy() for s in states]
        return output

    # ------------------------------------------------------------ backward plumbing
    def _split_dout(self, dout, T, N):
        """dout -> (dh_seq, d_final_states): dh_seq (T, N, u) time-major or None (when only the last
        output is returned, its gradient goes into the final state's gradient)."""
        kind = type(self).__name__
        u = self.units
        dtype = self.kernel.dtype
        out_shape = (N, T, u) if self.return_sequences else (N, u)
        if self.return_state:
            n = 1 + len(self.state_names)
            if not isinstance(dout, (list, tuple)) or len(dout) != n:
                names = ", ".join(["d output"] + [f"d {s}" for s in self.state_names])
                got = f"a list of {len(dout)}" if isinstance(dout, (list, tuple)) else type(dout).__name__
                raise ValueError(f"{kind} '{self.name}' has return_state=True, so backward expects a list "
                                 f"[{names}] (one gradient per output, None for zero); received {got}.")
            douts = list(dout)
        else:
            if isinstance(dout, (list, tuple)):
                raise ValueError(f"{kind} '{self.name}' returns one array (return_state=False), so backward "
                                 f"expects one array dout of shape {shape_str(out_shape)}; received a list.")
            douts = [dout]
        shapes = [out_shape] + [(N, u)] * (len(douts) - 1)
        checked = [np.zeros(s, dtype=dtype) if d is None else np.asarray(self._check_dout(d, s), dtype=dtype)
                   for d, s in zip(douts, shapes)]
        finals = [d.copy() for d in checked[1:]] or [np.zeros((N, u), dtype=dtype)]
        while len(finals) < len(self.state_names):
            finals.append(np.zeros((N, u), dtype=dtype))
        seen = getattr(self, "_seen", None)
        if self.return_sequences:
            dh_seq = np.ascontiguousarray(checked[0].transpose(1, 0, 2))
            dh_seq = dh_seq if seen is None else dh_seq * seen
        else:
            dh_seq = None
            finals[0] = finals[0] + (checked[0] if seen is None else checked[0] * seen[-1])  # the output is h_T
        return dh_seq, finals

    def _input_grads(self, xs, da):
        """dW and dx with one matrix product each (the sum over time steps and batch at once):

            dW = sum_t x_t^T da_t   = X^T dA        (X: (T N, F), dA: (T N, G))
            dx_t = da_t W^T         -> dX = dA W^T
        Returns dx batch-major (N, T, F) (back in the original time order with go_backwards).
        """
        T, N, F = xs.shape
        da2 = da.reshape(T * N, -1)
        self.dkernel = xs.reshape(T * N, F).T @ da2
        dxs = (da2 @ self.kernel.T).reshape(T, N, F)
        if self.go_backwards:
            dxs = dxs[::-1]
        return np.ascontiguousarray(dxs.transpose(1, 0, 2))

    @staticmethod
    def _summed_outer(h_in, d):
        """sum_t h_t^T d_t over time steps and batch, as one product: (T, N, A), (T, N, B) -> (A, B)."""
        return h_in.reshape(-1, h_in.shape[-1]).T @ d.reshape(-1, d.shape[-1])

    def _finish(self, dstates, dhs):
        self.dinitial_state = dstates
        self.dh_sequence = dhs.transpose(1, 0, 2)
        self.set_grads(kernel=self.dkernel, recurrent_kernel=self.drecurrent_kernel,
                       **({"bias": self.dbias} if self.use_bias else {}))

    def forward(self, x, initial_state=None, training=False, mask=None):
        """x (N, T, F) and optionally initial_state (a list of (N, units) arrays: [h_0], LSTM
        [h_0, c_0]) -> the output (a list [output, h_T(, c_T)] with return_state).
        ``training`` changes nothing (these layers have no dropout). ``mask`` (N, T) booleans (from
        ``Embedding(mask_zero=True)`` or ``Masking``), as Keras: at a masked step the states stay
        (h_t = h_{t-1}, c_t = c_{t-1}) and the output repeats the previous one (zeros before the
        first unmasked step, as Keras on TensorFlow)."""
        self._step_mask, self._seen = self._time_mask(mask, x)
        with _loop_numerics():
            return self._forward(x, initial_state)

    def backward(self, dout):
        """dout: dL/d(output), or with return_state a list [d output, d h_T(, d c_T)] (None for 0)
        -> dx (N, T, F); fills ``grads`` (Keras's trainable_weights order), ``dinitial_state``
        and ``dh_sequence``."""
        self._require_forward()
        with _loop_numerics():
            return self._backward(dout)

    def _time_mask(self, mask, x):
        """(step mask, seen) time-major (T, N, 1) in processing order: whether step t counts, and
        whether any step up to t did (the output is zero before that); (None, None) without a mask."""
        if mask is None:
            return None, None
        mask = np.asarray(mask).astype(bool)
        if mask.shape != np.shape(x)[:2]:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects a mask of shape (batch, timesteps) = "
                             f"{shape_str(np.shape(x)[:2])}, received shape {shape_str(mask.shape)}.")
        steps = mask.T[::-1] if self.go_backwards else mask.T
        steps = np.ascontiguousarray(steps)[..., None]
        return steps, np.logical_or.accumulate(steps, axis=0)

    def _carry(self, t, new, old):
        """A masked step keeps the state: ``new`` <- ``old`` where step t is masked."""
        if getattr(self, "_step_mask", None) is not None:
            np.copyto(new, old, where=~self._step_mask[t])

    def _through_step(self, t, *ds):
        """Each state gradient split into the part through step t's cell and the part that skips a
        masked step (to the previous state unchanged): ([d * m_t], [d * (1 - m_t)])."""
        if getattr(self, "_step_mask", None) is None:
            return list(ds), [0.0] * len(ds)
        m = self._step_mask[t]
        return [d * m for d in ds], [d * ~m for d in ds]

    def argument_gradients(self):
        """The gradients of the call's other tensor arguments (a functional Model reads them):
        ``initial_state``'s, of the last backward."""
        return {"initial_state": self.dinitial_state}

    # -------------------------------------------------------------------- config
    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "unroll": self.unroll, "seed": self.seed}

    def keras_config(self):
        """Keras constructor arguments (activations by their Keras names)."""
        config = self.get_config()
        for key in ("activation", "recurrent_activation"):
            if key in config:
                act = activations.get(config[key])
                if act.keras_name is None:
                    raise ValueError(f"Layer '{self.name}' uses the activation '{act.name}', which Keras "
                                     f"does not have; it cannot be converted to Keras.")
                config[key] = act.keras_name
        for key, value in config.items():
            if key.endswith("initializer") and callable(value):
                raise ValueError(f"Layer '{self.name}' uses a custom {key}; name a Keras initializer instead.")
        return config


class SimpleRNN(_Recurrent):
    """A fully connected recurrent layer, as ``keras.layers.SimpleRNN``.

    Weights ``[kernel (F, u), recurrent_kernel (u, u), bias (u,)]``.
    x ``(N, T, F)`` -> output ``(N, u)`` or ``(N, T, u)`` (``return_sequences``), and with
    ``return_state`` the list ``[output, h_T]``.

    Forward (for t = 1..T, h_0 = 0 or the initial state):
        a_t = x_t W + h_{t-1} U + b
        h_t = f(a_t)                                   f = activation (tanh)
    Backward (t = T..1, carrying dh = dL/dh_t; dh_t gets dL/dout_t plus what step t+1 sends back):
        da_t     = f'(a_t) * dh_t                      tanh: (1 - h_t^2) * dh_t
        dh_{t-1} = da_t U^T        (+ dL/dout_{t-1})
        dW = sum_t x_t^T da_t,  dU = sum_t h_{t-1}^T da_t,  db = sum_t sum_n da_t,  dx_t = da_t W^T
    After backward: ``grads`` = [dW, dU, db], ``dinitial_state`` = [dL/dh_0],
    ``dh_sequence`` (N, T, u) = dL/dh_t for every step (what BPTT carries back in time).
    """

    keras_class = "SimpleRNN"

    def _forward(self, x, initial_state=None):
        """x (N, T, F), initial_state [h_0 (N, u)] or None -> output (see the class docstring)."""
        xs, (h0,) = self._prepare(x, initial_state)
        T, N, _ = xs.shape
        U = self.recurrent_kernel
        a = self._input_part(xs, self.bias)         # x_t W + b for all t: (T, N, u)
        hs = np.empty((T + 1, N, self.units), dtype=a.dtype)
        hs[0] = h0
        for t in range(T):
            a[t] += hs[t] @ U                         # a_t = x_t W + h_{t-1} U + b
            _activate(self.activation, a[t], hs[t + 1])   # h_t = f(a_t)
            self._carry(t, hs[t + 1], hs[t])
        self._cache = (xs, a, hs)
        return self._outputs(hs, [hs[-1]])

    def _backward(self, dout):
        """dout: dL/d(output) (a list [d output, d h_T] with return_state) -> dx (N, T, F)."""
        self._require_forward()
        xs, a, hs = self._cache
        T, N, _ = xs.shape
        dh_seq, (dh,) = self._split_dout(dout, T, N)
        U_T = self.recurrent_kernel.T
        da = np.empty_like(a)
        dhs = np.empty_like(a)
        for t in reversed(range(T)):
            if dh_seq is not None:
                dh = dh + dh_seq[t]                   # dL/dh_t: from the output at t and from step t+1
            dhs[t] = dh
            (dh,), (skip,) = self._through_step(t, dh)
            da[t] = self.activation.backward(a[t], hs[t + 1], dh)   # da_t = f'(a_t) * dh_t
            dh = da[t] @ U_T + skip                   # dh_{t-1} = da_t U^T
        if self.use_bias:
            self.dbias = da.sum(axis=(0, 1))          # db = sum over t and n of da_t
        self.drecurrent_kernel = self._summed_outer(hs[:-1], da)   # dU = sum_t h_{t-1}^T da_t
        dx = self._input_grads(xs, da)                              # dW = sum_t x_t^T da_t, dx_t = da_t W^T
        self._finish([dh], dhs)
        return dx


class LSTM(_Recurrent):
    """Long short-term memory, as ``keras.layers.LSTM`` (gate order i, f, c, o).

    Weights ``[kernel (F, 4u), recurrent_kernel (u, 4u), bias (4u,)]``; column blocks of u are the
    input gate i, the forget gate f, the candidate cell c~ and the output gate o. With
    ``unit_forget_bias=True`` (Keras's default) the forget block of the bias starts at 1.
    x ``(N, T, F)`` -> output ``(N, u)`` or ``(N, T, u)``; with ``return_state`` ``[output, h_T, c_T]``.

    Forward (σ = recurrent_activation (sigmoid), f = activation (tanh)):
        a_t = x_t W + h_{t-1} U + b = [a_i, a_f, a_c, a_o]
        i = σ(a_i)   g = f(a_c)   o = σ(a_o)   (forget gate) φ = σ(a_f)
        c_t = φ * c_{t-1} + i * g
        h_t = o * f(c_t)
    Backward (t = T..1, carrying dh = dL/dh_t and dc = dL/dc_t):
        do = dh * f(c_t)                     dc += dh * o * f'(c_t)
        di = dc * g     dφ = dc * c_{t-1}     dg = dc * i
        da = [σ'(a_i) di, σ'(a_f) dφ, f'(a_c) dg, σ'(a_o) do]       (σ' = σ (1 - σ), tanh' = 1 - tanh^2)
        dc_{t-1} = dc * φ                    dh_{t-1} = da U^T (+ dL/dout_{t-1})
        dW = sum_t x_t^T da_t, dU = sum_t h_{t-1}^T da_t, db = sum da_t, dx_t = da_t W^T
    After backward: ``grads`` = [dW, dU, db], ``dinitial_state`` = [dL/dh_0, dL/dc_0],
    ``dh_sequence`` (N, T, u) = dL/dh_t for every step.
    """

    keras_class = "LSTM"
    recurrent_activation = ActivationAttribute()
    state_names = ("h", "c")
    n_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, seed=None, implementation=2, use_cudnn="auto", **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         dropout, recurrent_dropout, return_sequences, return_state, go_backwards, stateful,
                         unroll, seed, **kwargs)   # _Recurrent's arguments, in its order
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.implementation = implementation   # Keras's choice of kernel; same numbers
        self.use_cudnn = use_cudnn

    def _initial_bias(self, dtype):
        u = self.units
        if not self.unit_forget_bias:
            return self.bias_initializer((4 * u,), dtype=dtype)
        # Keras: [b_i, 1, b_c, b_o] - a forget gate that starts open keeps the memory at first
        return np.concatenate([self.bias_initializer((u,), dtype=dtype), np.ones((u,), dtype=dtype),
                               self.bias_initializer((2 * u,), dtype=dtype)])

    def _forward(self, x, initial_state=None):
        """x (N, T, F), initial_state [h_0, c_0] (each (N, u)) or None -> output."""
        xs, (h0, c0) = self._prepare(x, initial_state)
        T, N, _ = xs.shape
        u, U = self.units, self.recurrent_kernel
        a = self._input_part(xs, self.bias)          # x_t W + b for all t: (T, N, 4u)
        gates = np.empty_like(a)                      # [i, φ, g, o] after their activations
        hs = np.empty((T + 1, N, u), dtype=a.dtype)
        cs = np.empty((T + 1, N, u), dtype=a.dtype)
        f_cs = np.empty((T, N, u), dtype=a.dtype)     # f(c_t)
        hs[0], cs[0] = h0, c0
        sigma, f = self.recurrent_activation, self.activation
        for t in range(T):
            a_t, gate = a[t], gates[t]
            a_t += hs[t] @ U                          # a_t = x_t W + h_{t-1} U + b
            _activate(sigma, a_t, gate)               # i, φ, o = σ(...) (the c block is overwritten next)
            _activate(f, a_t[:, 2 * u:3 * u], gate[:, 2 * u:3 * u])   # g = f(a_c)
            i, phi, g, o = gate[:, :u], gate[:, u:2 * u], gate[:, 2 * u:3 * u], gate[:, 3 * u:]
            c = cs[t + 1]
            np.multiply(phi, cs[t], out=c)            # c_t = φ * c_{t-1} + i * g
            c += i * g
            _activate(f, c, f_cs[t])
            np.multiply(o, f_cs[t], out=hs[t + 1])    # h_t = o * f(c_t)
            self._carry(t, hs[t + 1], hs[t])
            self._carry(t, c, cs[t])
        self._cache = (xs, a, gates, hs, cs, f_cs)
        return self._outputs(hs, [hs[-1], cs[-1]])

    def _backward(self, dout):
        """dout: dL/d(output) (a list [d output, d h_T, d c_T] with return_state) -> dx (N, T, F)."""
        self._require_forward()
        xs, a, gates, hs, cs, f_cs = self._cache
        T, N, _ = xs.shape
        u = self.units
        dh_seq, (dh, dc) = self._split_dout(dout, T, N)
        U_T = self.recurrent_kernel.T
        sigma, f = self.recurrent_activation, self.activation
        fast = sigma.name == "sigmoid" and f.name == "tanh"
        da = np.empty_like(a)
        dgates = np.empty((N, 4 * u), dtype=a.dtype)
        dhs = np.empty_like(hs[1:])
        for t in reversed(range(T)):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dhs[t] = dh
            (dh, dc), (skip_h, skip_c) = self._through_step(t, dh, dc)
            gate = gates[t]
            i, phi, g, o = gate[:, :u], gate[:, u:2 * u], gate[:, 2 * u:3 * u], gate[:, 3 * u:]
            do = dgates[:, 3 * u:]
            np.multiply(dh, f_cs[t], out=do)                      # do = dh * f(c_t)
            dc = dc + f.backward(cs[t + 1], f_cs[t], dh * o)      # dc += dh * o * f'(c_t)
            np.multiply(dc, g, out=dgates[:, :u])                 # di = dc * g
            np.multiply(dc, cs[t], out=dgates[:, u:2 * u])        # dφ = dc * c_{t-1}
            np.multiply(dc, i, out=dgates[:, 2 * u:3 * u])        # dg = dc * i
            if fast:   # σ' = σ (1 - σ) on all four blocks, then tanh' = 1 - g^2 on the c block
                np.multiply(dgates, gate * (1 - gate), out=da[t])
                np.multiply(dgates[:, 2 * u:3 * u], 1 - g * g, out=da[t][:, 2 * u:3 * u])
            else:
                for block, act in ((slice(0, 2 * u), sigma), (slice(2 * u, 3 * u), f), (slice(3 * u, 4 * u), sigma)):
                    da[t][:, block] = act.backward(a[t][:, block], gate[:, block], dgates[:, block])
            dc = dc * phi + skip_c                                 # dc_{t-1} = dc * φ
            dh = da[t] @ U_T + skip_h                              # dh_{t-1} = da_t U^T
        if self.use_bias:
            self.dbias = da.sum(axis=(0, 1))
        self.drecurrent_kernel = self._summed_outer(hs[:-1], da)   # dU = sum_t h_{t-1}^T da_t
        dx = self._input_grads(xs, da)                              # dW = sum_t x_t^T da_t, dx_t = da_t W^T
        self._finish([dh, dc], dhs)
        return dx

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(_Recurrent):
    """Gated recurrent unit, as ``keras.layers.GRU`` (gate order z, r, h).

    Weights ``[kernel (F, 3u), recurrent_kernel (u, 3u), bias]``, bias ``(2, 3u)`` with
    ``reset_after=True`` (Keras's default: row 0 the input bias b_x, row 1 the recurrent bias b_h)
    or ``(3u,)`` with ``reset_after=False``.
    x ``(N, T, F)`` -> output ``(N, u)`` or ``(N, T, u)``; with ``return_state`` ``[output, h_T]``.

    Forward (σ = recurrent_activation (sigmoid), f = activation (tanh)); x_t W + b_x = [x_z, x_r, x_h]:
      reset_after=True:   [m_z, m_r, m_h] = h_{t-1} U + b_h
                          z = σ(x_z + m_z)   r = σ(x_r + m_r)   hh = f(x_h + r * m_h)
      reset_after=False:  z = σ(x_z + h_{t-1} U_z)   r = σ(x_r + h_{t-1} U_r)
                          hh = f(x_h + (r * h_{t-1}) U_h)
      h_t = z * h_{t-1} + (1 - z) * hh           (Keras's convention: z keeps the old state)
    Backward (t = T..1, carrying dh = dL/dh_t; a_z, a_r, a_h the pre-activations):
      dz = dh * (h_{t-1} - hh)    dhh = dh * (1 - z)    dh_{t-1} = dh * z + ...
      da_h = f'(a_h) dhh
      reset_after=True:   dr = da_h * m_h;  dm = [da_z, da_r, da_h * r];  dh_{t-1} += dm U^T
      reset_after=False:  d(r h) = da_h U_h^T;  dr = d(r h) * h_{t-1};  dh_{t-1} += d(r h) * r
                          dh_{t-1} += [da_z, da_r] U_zr^T
      da_z = σ'(a_z) dz,  da_r = σ'(a_r) dr
      dW = sum_t x_t^T [da_z, da_r, da_h],  dU = sum_t h_{t-1}^T dm  (U_h: sum_t (r h_{t-1})^T da_h
      when reset_after=False),  db_x = sum [da_z, da_r, da_h],  db_h = sum dm,  dx_t = da_t W^T
    After backward: ``grads`` = [dW, dU, db], ``dinitial_state`` = [dL/dh_0], ``dh_sequence``.
    """

    keras_class = "GRU"
    recurrent_activation = ActivationAttribute()
    n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, seed=None,
                 reset_after=True, implementation=2, use_cudnn="auto", **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         dropout, recurrent_dropout, return_sequences, return_state, go_backwards, stateful,
                         unroll, seed, **kwargs)   # _Recurrent's arguments, in its order
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self.implementation = implementation
        self.use_cudnn = use_cudnn

    def _initial_bias(self, dtype):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self.bias_initializer(shape, dtype=dtype)

    def _biases(self):
        """(b_x, b_h): the input bias and the recurrent bias (None where there is none)."""
        if not self.use_bias:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def _forward(self, x, initial_state=None):
        """x (N, T, F), initial_state [h_0 (N, u)] or None -> output."""
        xs, (h0,) = self._prepare(x, initial_state)
        T, N, _ = xs.shape
        u, U = self.units, self.recurrent_kernel
        b_x, b_h = self._biases()
        a = self._input_part(xs, b_x)               # [x_z, x_r, x_h] = x_t W + b_x: (T, N, 3u)
        acts = np.empty_like(a)                      # [z, r, hh]
        hs = np.empty((T + 1, N, u), dtype=a.dtype)
        hs[0] = h0
        # reset_after: m_h = (h_{t-1} U + b_h)_h; otherwise r * h_{t-1} - what backward needs from each step
        memo = np.empty((T, N, u), dtype=a.dtype)
        sigma, f = self.recurrent_activation, self.activation
        for t in range(T):
            a_t, act_t, h_prev = a[t], acts[t], hs[t]
            if self.reset_after:
                m = h_prev @ U                       # [m_z, m_r, m_h] = h_{t-1} U + b_h
                if b_h is not None:
                    m += b_h
                a_t[:, :2 * u] += m[:, :2 * u]       # a_z, a_r = x_z + m_z, x_r + m_r
                _activate(sigma, a_t[:, :2 * u], act_t[:, :2 * u])
                memo[t] = m[:, 2 * u:]
                a_t[:, 2 * u:] += act_t[:, u:2 * u] * memo[t]       # a_h = x_h + r * m_h
            else:
                a_t[:, :2 * u] += h_prev @ U[:, :2 * u]             # a_z, a_r = x + h_{t-1} U_zr
                _activate(sigma, a_t[:, :2 * u], act_t[:, :2 * u])
                np.multiply(act_t[:, u:2 * u], h_prev, out=memo[t])   # r * h_{t-1}
                a_t[:, 2 * u:] += memo[t] @ U[:, 2 * u:]            # a_h = x_h + (r h_{t-1}) U_h
            hh = _activate(f, a_t[:, 2 * u:], act_t[:, 2 * u:])     # hh = f(a_h)
            z = act_t[:, :u]
            hs[t + 1] = z * h_prev + (1 - z) * hh                   # h_t = z h_{t-1} + (1 - z) hh
            self._carry(t, hs[t + 1], h_prev)
        self._cache = (xs, a, acts, hs, memo)
        return self._outputs(hs, [hs[-1]])

    def _backward(self, dout):
        """dout: dL/d(output) (a list [d output, d h_T] with return_state) -> dx (N, T, F)."""
        self._require_forward()
        xs, a, acts, hs, memo = self._cache
        T, N, _ = xs.shape
        u = self.units
        dh_seq, (dh,) = self._split_dout(dout, T, N)
        U = self.recurrent_kernel
        U_T, U_zr_T, U_h_T = U.T, U[:, :2 * u].T, U[:, 2 * u:].T
        sigma, f = self.recurrent_activation, self.activation
        da = np.empty_like(a)          # gradients of [a_z, a_r, a_h]: the input part x_t W + b_x
        dm = np.empty_like(a)          # gradients of the recurrent part (reset_after: h U + b_h)
        dhs = np.empty_like(hs[1:])
        for t in reversed(range(T)):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dhs[t] = dh
            (dh,), (skip,) = self._through_step(t, dh)
            h_prev = hs[t]
            z, r, hh = acts[t][:, :u], acts[t][:, u:2 * u], acts[t][:, 2 * u:]
            dz = dh * (h_prev - hh)                                  # dz = dh (h_{t-1} - hh)
            da_h = f.backward(a[t][:, 2 * u:], hh, dh * (1 - z))     # da_h = f'(a_h) dh (1 - z)
            da[t][:, 2 * u:] = da_h
            dh_prev = dh * z + skip                                  # the direct path z * h_{t-1}
            if self.reset_after:
                dr = da_h * memo[t]                                  # dr = da_h * m_h
                dm[t][:, 2 * u:] = da_h * r                          # dm_h = da_h * r
            else:
                drh = da_h @ U_h_T                                   # d(r h_{t-1}) = da_h U_h^T
                dr = drh * h_prev
                dh_prev += drh * r
                dm[t][:, 2 * u:] = da_h
            da[t][:, :u] = sigma.backward(a[t][:, :u], z, dz)        # da_z = σ'(a_z) dz
            da[t][:, u:2 * u] = sigma.backward(a[t][:, u:2 * u], r, dr)   # da_r = σ'(a_r) dr
            dm[t][:, :2 * u] = da[t][:, :2 * u]
            if self.reset_after:
                dh = dh_prev + dm[t] @ U_T                           # dh_{t-1} += dm U^T
            else:
                dh = dh_prev + da[t][:, :2 * u] @ U_zr_T             # dh_{t-1} += [da_z, da_r] U_zr^T
        dx = self._input_grads(xs, da)                  # dW = sum_t x_t^T da_t, dx_t = da_t W^T
        if self.reset_after:
            self.drecurrent_kernel = self._summed_outer(hs[:-1], dm)     # dU = sum_t h_{t-1}^T dm_t
            if self.use_bias:
                self.dbias = np.stack([da.sum(axis=(0, 1)), dm.sum(axis=(0, 1))])   # [db_x, db_h]
        else:
            # dU_zr = sum_t h_{t-1}^T [da_z, da_r],   dU_h = sum_t (r h_{t-1})^T da_h
            self.drecurrent_kernel = np.concatenate([self._summed_outer(hs[:-1], dm[..., :2 * u]),
                                                     self._summed_outer(memo, da[..., 2 * u:])], axis=1)
            if self.use_bias:
                self.dbias = da.sum(axis=(0, 1))
        self._finish([dh], dhs)
        return dx

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name,
                "reset_after": self.reset_after}


# -------- TimeDistributed ------------------------------------------------------------------------


class TimeDistributed(Layer):
    """Applies one layer to every time step, as ``keras.layers.TimeDistributed(layer)``.

    The same weights serve every step: the wrapped layer sees the (N, T, ...) input as N*T examples.
    Weights, their order and ``grads`` are those of the wrapped layer.
    (``Dense`` already works along the last axis of a rank-3 input, so
    ``TimeDistributed(Dense(k))`` and ``Dense(k)`` compute the same thing; the wrapper is the general form.)

    Shapes: x ``(N, T, ...)`` -> ``(N, T, ...out)``.
    Forward:   y[:, t] = layer(x[:, t])              (as one call on x reshaped to (N T, ...))
    Backward:  dx[:, t] = layer.backward(dy[:, t]);  dW = sum_t dW_t    (the same reshape)
    """

    keras_class = "TimeDistributed"
    input_spec = InputSpec(min_ndim=3)

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a course_utils.nn layer, received {type(layer).__name__}. "
                            f"(A Keras layer can be converted with course_utils.nn.from_keras.)")
        if self.dtype is not None and layer.dtype is None:
            layer.dtype = self.dtype
        self.layer = layer
        self._slots = layer._slots   # the weights, their order and gradients are the wrapped layer's
        self._cache = None

    def build(self, input_shape):
        input_shape = self._shape_of_min_rank(input_shape, 3, "expects input of rank >= 3 (batch, timesteps, ...)",
                                              who="TimeDistributed")
        if not self.layer.built:
            self.layer.build((None,) + input_shape[2:])
        super().build(input_shape)


    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, x, training=False, mask=None):
        """x (N, T, ...) -> (N, T, ...out). ``mask`` (N, T) (Embedding(mask_zero=True), Masking): as Keras,
        it changes nothing for a wrapped layer that takes no mask, and passes on to the next layer."""
        if mask is not None and "mask" in inspect.signature(self.layer.forward).parameters:
            raise ValueError(f"TimeDistributed '{self.name}' receives a mask, and Keras would hand each step's "
                             f"mask to the wrapped {type(self.layer).__name__}; the NumPy TimeDistributed does "
                             f"not implement that. Drop the mask before it (mask_zero=False, no Masking), or "
                             f"wrap a layer that takes no mask (Dense, Conv1D, ...).")
        N, T = x.shape[:2]
        y = self.layer.forward(x.reshape((N * T,) + x.shape[2:]), training=training)
        self._cache = (N, T)
        return y.reshape((N, T) + y.shape[1:])

    def backward(self, dout):
        """dout (N, T, ...out) -> dx (N, T, ...); grads = the wrapped layer's, summed over time."""
        self._require_forward()
        N, T = self._cache
        dout = np.asarray(dout)
        if dout.shape[:2] != (N, T):
            raise ValueError(f"TimeDistributed '{self.name}' backward expected dout of shape (batch, timesteps, "
                             f"...) = ({N}, {T}, ...), received shape {shape_str(dout.shape)}.")
        dx = self.layer.backward(dout.reshape((N * T,) + dout.shape[2:]))
        return None if dx is None else dx.reshape((N, T) + dx.shape[1:])

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights if self.trainable else []

    @property
    def grads(self):
        return self.layer.grads if self.trainable else []

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights if self.trainable else self.weights

    def regularization_loss(self):
        return self.layer.regularization_loss() if self.trainable else 0.0

    def regularization_grads(self):
        return self.layer.regularization_grads() if self.trainable else []

    def get_config(self):
        return {**super().get_config(), "layer": self.layer}

    def keras_config(self):
        return {"name": self.name, "trainable": self.trainable, "layer": self.layer}   # to_keras converts the layer

    @classmethod
    def from_keras_config(cls, config):
        inner = config["layer"]
        class_name = inner.get("class_name") if isinstance(inner, dict) else type(inner).__name__
        inner_cls = LAYER_REGISTRY.get(class_name)
        if inner_cls is None:
            raise ValueError(f"There is no NumPy twin of keras.layers.{class_name} (inside TimeDistributed). "
                             f"Layers with twins: {', '.join(sorted(LAYER_REGISTRY))}.")
        inner_config = inner["config"]
        return {"layer": inner_cls(**inner_cls.from_keras_config(inner_config)), "name": config.get("name"), "trainable": config.get("trainable", True)}


# -------- Bidirectional --------------------------------------------------------------------------


MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def _twin_of_keras_config(inner, where):
    """The NumPy twin of a serialised Keras layer ({"class_name", "config"}) inside a wrapper."""
    class_name = inner.get("class_name") if isinstance(inner, dict) else type(inner).__name__
    inner_cls = LAYER_REGISTRY.get(class_name)
    if inner_cls is None:
        raise ValueError(f"There is no NumPy twin of keras.layers.{class_name} (inside {where}). "
                         f"Layers with twins: {', '.join(sorted(LAYER_REGISTRY))}.")
    # Keras's Bidirectional sets zero_output_for_mask = return_sequences on its layers: the NumPy
    # Bidirectional applies it itself (it only matters with a mask)
    config = {k: v for k, v in inner["config"].items() if k != "zero_output_for_mask"}
    return inner_cls(**inner_cls.from_keras_config(config))


class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and a copy of it backwards, and merges the
    two, as ``keras.layers.Bidirectional(layer, merge_mode="concat", backward_layer=None)``.

    ``forward_layer`` is a copy of ``layer`` (named "forward_<name>"), ``backward_layer`` a copy with
    ``go_backwards`` flipped (or the ``backward_layer`` given). Weights (Keras's order): the forward
    layer's, then the backward layer's.

    Shapes: x ``(N, T, F)`` -> y ``(N, [T,] u_f + u_b)`` with "concat", ``(N, [T,] u)`` with "sum",
    "ave", "mul", and the list ``[y_f, y_b]`` with merge_mode=None; with return_state the layer
    returns ``[y, *forward states, *backward states]``, as Keras. ``initial_state``: the forward
    layer's states then the backward layer's.

    Forward:   y_f = forward(x),  y_b = backward(x), reversed in time back to the input's order
               when return_sequences;  y = [y_f, y_b] | y_f + y_b | (y_f + y_b) / 2 | y_f * y_b
    Backward:  dy_f, dy_b from dy (the two halves | dy, dy | dy / 2, dy / 2 | dy y_b, dy y_f),
               dy_b reversed in time again;  dx = forward.backward(dy_f) + backward.backward(dy_b)
    """

    keras_class = "Bidirectional"
    input_spec = InputSpec(ndim=3)

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        for what, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is not None and not isinstance(value, _Recurrent):
                raise ValueError(f"Bidirectional wraps a course_utils.nn recurrent layer (SimpleRNN, LSTM, GRU); "
                                 f"received {what}={type(value).__name__}. (A Keras layer can be converted with "
                                 f"course_utils.nn.from_keras.)")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be one of "
                             f'{{"sum", "mul", "ave", "concat", None}}')
        self.merge_mode = merge_mode
        self.forward_layer = self._copy(layer, "forward", layer.go_backwards)
        self.backward_layer = (self._copy(layer, "backward", not layer.go_backwards) if backward_layer is None
                               else backward_layer)
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Forward layer and backward layer should have different `go_backwards` value. "
                             f"Received: go_backwards={self.forward_layer.go_backwards} for both.")
        for attribute in ("return_sequences", "return_state"):
            if getattr(self.forward_layer, attribute) != getattr(self.backward_layer, attribute):
                raise ValueError(f'Forward layer and backward layer are expected to have the same value for '
                                 f'attribute "{attribute}".')
        for inner in (self.forward_layer, self.backward_layer):
            if self.dtype is not None and inner.dtype is None:
                inner.dtype = self.dtype
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.dinitial_state = None
        self._cache = None

    @staticmethod
    def _copy(layer, prefix, go_backwards):
        """A fresh, unbuilt copy of ``layer`` named "<prefix>_<name>", as Keras copies it by its config."""
        config = dict(layer.get_config())
        name = config["name"][len(prefix) + 1:] if config["name"].startswith(prefix + "_") else config["name"]
        config.update(name=f"{prefix}_{name}", go_backwards=go_backwards)
        return type(layer)(**config, dtype=layer.dtype)

    def build(self, input_shape):
        input_shape = self._check_rank(input_shape, 3)
        for inner in (self.forward_layer, self.backward_layer):
            if not inner.built:
                inner.build(input_shape)
        self._slots = self.forward_layer._slots + self.backward_layer._slots   # Keras's weight order
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        forward = _as_shapes(self.forward_layer.compute_output_shape(input_shape))
        backward = _as_shapes(self.backward_layer.compute_output_shape(input_shape))
        if self.merge_mode is None:
            outputs = [forward[0], backward[0]]
        elif self.merge_mode == "concat":
            outputs = [forward[0][:-1] + (forward[0][-1] + backward[0][-1],)]
        else:
            outputs = [forward[0]]
        if self.return_state:
            return outputs + forward[1:] + backward[1:]
        return outputs if self.merge_mode is None else outputs[0]

    def forward(self, x, initial_state=None, training=False, mask=None):
        """``mask`` (N, T) (Embedding(mask_zero=True), Masking) goes to both layers; as Keras (which sets
        zero_output_for_mask = return_sequences on them), a masked step's output is 0 in the sequence."""
        fw, bw = self.forward_layer, self.backward_layer
        states = [None, None]
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            states = [initial_state[:half], initial_state[half:]]
        outs = [_as_list(fw.forward(x, initial_state=states[0], mask=mask)),
                _as_list(bw.forward(x, initial_state=states[1], mask=mask))]
        y, y_rev = outs[0][0], outs[1][0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        self._keep = None if mask is None or not self.return_sequences else np.asarray(mask, bool)[..., None]
        if self._keep is not None:
            y, y_rev = y * self._keep, y_rev * self._keep
        merged = {"concat": lambda: np.concatenate([y, y_rev], axis=-1), "sum": lambda: y + y_rev,
                  "ave": lambda: (y + y_rev) / 2, "mul": lambda: y * y_rev, None: lambda: [y, y_rev]}[self.merge_mode]()
        merged = merged if self.merge_mode is None else [merged]
        self._cache = (y, y_rev, len(outs[0]) - 1, merged[0].shape)
        if self.return_state:
            return merged + outs[0][1:] + outs[1][1:]
        return merged if self.merge_mode is None else merged[0]

    def backward(self, dout):
        """dout: dL/dy (a list [dy_f, dy_b] with merge_mode=None; with return_state followed by the
        gradients of the states, None for 0) -> dx (N, T, F); fills ``grads`` and ``dinitial_state``."""
        self._require_forward()
        y, y_rev, n_states, merged_shape = self._cache
        n_outputs = 2 if self.merge_mode is None else 1
        douts = _as_list(dout) if (self.return_state or self.merge_mode is None) else [dout]
        if len(douts) != n_outputs + 2 * n_states:
            raise ValueError(f"Bidirectional '{self.name}' backward expects {n_outputs + 2 * n_states} gradients "
                             f"(one per output), received {len(douts)}.")
        shapes = [y.shape, y_rev.shape] if self.merge_mode is None else [merged_shape]
        d = [np.zeros(s, dtype=y.dtype) if g is None else self._check_dout(g, s) for g, s in zip(douts, shapes)]
        dy, dy_rev = self._merge_grads(d, y, y_rev)
        if getattr(self, "_keep", None) is not None:
            dy, dy_rev = dy * self._keep, dy_rev * self._keep
        if self.return_sequences:
            dy_rev = dy_rev[:, ::-1]
        d_states = douts[n_outputs:]
        grads = [[dy] + d_states[:n_states], [dy_rev] + d_states[n_states:]]
        fw, bw = self.forward_layer, self.backward_layer
        dx = sum(layer.backward(g if self.return_state else g[0]) for layer, g in zip((fw, bw), grads))
        self.dinitial_state = list(fw.dinitial_state) + list(bw.dinitial_state)
        return dx

    def _merge_grads(self, d, y, y_rev):
        """(dy_f, dy_b) from the gradient of the merged output."""
        if self.merge_mode is None:
            return d[0], d[1]
        g = d[0]
        if self.merge_mode == "concat":
            return g[..., :y.shape[-1]], g[..., y.shape[-1]:]
        if self.merge_mode == "sum":
            return g, g
        if self.merge_mode == "ave":
            return g / 2, g / 2
        return g * y_rev, g * y

    @property
    def trainable_weights(self):
        return (self.forward_layer.trainable_weights + self.backward_layer.trainable_weights) if self.trainable else []

    @property
    def grads(self):
        return (self.forward_layer.grads + self.backward_layer.grads) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return self.forward_layer.non_trainable_weights + self.backward_layer.non_trainable_weights

    def regularization_loss(self):
        return self.forward_layer.regularization_loss() + self.backward_layer.regularization_loss() \
            if self.trainable else 0.0

    def regularization_grads(self):
        return self.forward_layer.regularization_grads() + self.backward_layer.regularization_grads() \
            if self.trainable else []

    def get_config(self):
        return {**super().get_config(), "layer": self.forward_layer, "merge_mode": self.merge_mode,
                "backward_layer": self.backward_layer}

    def keras_config(self):   # to_keras converts the two layers
        return {"name": self.name, "trainable": self.trainable, "layer": self.forward_layer,
                "merge_mode": self.merge_mode, "backward_layer": self.backward_layer}

    @classmethod
    def from_keras_config(cls, config):
        layer = _twin_of_keras_config(config["layer"], "Bidirectional")
        backward = config.get("backward_layer")
        return {"layer": layer, "merge_mode": config.get("merge_mode", "concat"),
                "backward_layer": None if backward is None else _twin_of_keras_config(backward, "Bidirectional"),
                "name": config.get("name"), "trainable": config.get("trainable", True)}


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_shapes(shape):
    """One output shape or a list of them -> a list of tuples."""
    return [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]
