"""A custom Keras training step written once, for every backend (TensorFlow, JAX, PyTorch).

Keras's guide "Customizing what happens in fit()" has one version per backend, because each
backend takes gradients its own way: TensorFlow records a `tf.GradientTape`, PyTorch calls
`loss.backward()`, and JAX differentiates a *pure function* of the weights (`jax.value_and_grad`)
- which is why on JAX `fit` calls `train_step(state, data)` with every variable's value passed in
and expects the new values back. This module hides exactly that difference and nothing else:

    class MyModel(keras_steps.CustomStepModel):
        def compile(self, optimizer_a, **kwargs):
            super().compile(**kwargs)
            self.optimizer_a = self.attach_optimizer(optimizer_a, self.part_a.trainable_weights)

        def custom_train_step(self, data):              # plain Keras: keras.ops, layer calls
            loss = keras_steps.minimize(self.optimizer_a, lambda: self.loss_of(data),
                                        self.part_a.trainable_weights)
            return {"loss": loss}

`gradients(loss_fn, variables)` returns d loss / d variable through the active backend;
`minimize(optimizer, loss_fn, variables)` also applies them. On JAX, `CustomStepModel` runs
`custom_train_step` inside a `keras.StatelessScope` that holds the values `fit` passed in (Keras's
own `stateless_call` and `stateless_apply` work the same way), so the step is compiled by
`jax.jit` like any built-in one.
"""
from __future__ import annotations

__all__ = ["gradients", "minimize", "steps_per_execution", "CustomStepModel"]


def _backend():
    import keras
    return keras.backend.backend()


def _split(output):
    # loss_fn may return the loss alone or (loss, extras)
    return (output[0], output) if isinstance(output, tuple) else (output, output)


def gradients(loss_fn, variables):
    """Run `loss_fn()` (a forward pass that returns a scalar loss, or a tuple whose first item is
    the loss) and return `(what loss_fn returned, [d loss / d v for v in variables])`, computed by
    the active backend's automatic differentiation. Variables that `loss_fn` updates on the way
    (BatchNormalization's moving statistics, a SeedGenerator's state) are updated as on every
    backend's own `fit`."""
    variables = list(variables)
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            output = loss_fn()
        return output, tape.gradient(_split(output)[0], variables)
    if backend == "torch":
        for v in variables:
            v.value.grad = None              # torch accumulates into .grad: start from zero
        output = loss_fn()
        _split(output)[0].backward()
        return output, [v.value.grad for v in variables]
    if backend == "jax":
        return _jax_gradients(loss_fn, variables)
    raise NotImplementedError(
        f"course_utils.keras_steps.gradients: Keras backend {backend!r} has no automatic "
        f"differentiation; use 'tensorflow', 'jax' or 'torch' (set KERAS_BACKEND before importing Keras).")


def _jax_gradients(loss_fn, variables):
    import jax
    from keras import StatelessScope
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    outer = get_stateless_scope()
    outer_values = dict(outer.state_mapping) if outer is not None else {}
    differentiated = {id(v) for v in variables}
    updated = []                             # the variables loss_fn assigned (filled while tracing)

    class RecordingScope(StatelessScope):
        def add_update(self, update):
            super().add_update(update)
            if id(update[0]) not in differentiated and all(v is not update[0] for v in updated):
                updated.append(update[0])

    def loss_of(values):
        scope = RecordingScope(state_mapping=list(zip(variables, values)))
        scope.state_mapping = {**outer_values, **scope.state_mapping}   # everything else as outside
        with scope:
            output = loss_fn()
        return _split(output)[0], (output, [scope.get_current_value(v) for v in updated])

    (_, (output, new_values)), grads = jax.value_and_grad(loss_of, has_aux=True)(
        [v.value for v in variables])
    for v, value in zip(updated, new_values):
        v.assign(value)                      # recorded by the outer scope under fit, in place eagerly
    return output, grads


def steps_per_execution(steps):
    """`steps` for `compile(steps_per_execution=...)` on TensorFlow and JAX, which run that many
    training steps per call of the compiled function; 1 on PyTorch, whose trainer refuses more
    ("`steps_per_execution` must be 1 with the PyTorch backend": Keras 3.15). The steps and
    their results are the same either way; only the number of calls from Python changes."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps_per_execution: expected a positive int (the steps per call on TensorFlow "
                         f"and JAX, e.g. 20), received {steps!r}.")
    return 1 if _backend() == "torch" else steps


def minimize(optimizer, loss_fn, variables):
    """One optimizer step on `variables` down the gradient of `loss_fn()`; returns what loss_fn
    returned (the loss, or the tuple)."""
    variables = list(variables)
    output, grads = gradients(loss_fn, variables)
    if _backend() == "torch":
        import torch
        with torch.no_grad():                # an in-place update is not part of the graph
            optimizer.apply(grads, variables)
    else:
        optimizer.apply(grads, variables)
    return output


try:
    import keras as _keras
except ImportError:  # pragma: no cover - the module is imported only where Keras is installed
    _keras = None


if _keras is not None:
    class CustomStepModel(_keras.Model):
        """A `keras.Model` whose training step is written once, stateful, as on TensorFlow, in
        `custom_train_step(self, data)` (return the logs), and runs under `fit` on every backend.

        Optimizers beyond the one given to `compile` (a GAN has two) are attached with
        `attach_optimizer(optimizer, variables)`: it builds the optimizer for those variables and
        lists its variables among the model's, so that on JAX they are part of the state that
        `fit` carries from step to step."""

        def custom_train_step(self, data):
            raise NotImplementedError(f"{type(self).__name__} must define custom_train_step(self, data)")

        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)
            # The model has no call() of its own, only parts: fit (on JAX) would try to build it by
            # calling it. Parts without a build() of their own (a Sampling layer) create nothing.
            for layer in self._flatten_layers(include_self=False):
                if not layer.built and type(layer).build is _keras.layers.Layer.build:
                    layer.built = True
            unbuilt = [layer.name for layer in self._flatten_layers(include_self=False) if not layer.built]
            if unbuilt:
                raise ValueError(f"{type(self).__name__}: build its parts before compile (give each its "
                                 f"keras.Input, or call it on a batch); not built: {', '.join(unbuilt)}.")
            self.built = True

        def attach_optimizer(self, optimizer, variables):
            optimizer.build(list(variables))
            attached = getattr(self, "_attached_optimizer_variables", [])
            self._attached_optimizer_variables = attached + list(optimizer.variables)
            return optimizer

        def train_step(self, *args):
            if len(args) == 1:               # TensorFlow and PyTorch: train_step(data), stateful
                return self.custom_train_step(args[0])
            state, data = args               # JAX: train_step(state, data) -> (logs, new state)
            groups = [self.trainable_variables, self.non_trainable_variables,
                      self.optimizer.variables if self.optimizer is not None else [],
                      self.metrics_variables]
            mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
            with _keras.StatelessScope(state_mapping=mapping) as scope:
                logs = self.custom_train_step(data)
            new_state = tuple([scope.get_current_value(v) for v in group] for group in groups)
            return logs, new_state
