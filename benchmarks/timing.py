"""What the benchmarks share: a median timer and Keras's compiled forward + backward step."""
import statistics
import time


def median_time(fn, repeats, warmup=3):
    """The median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compiled_keras_step(keras_layer):
    """A tf.function (x, dout) -> [output, dL/dx, dL/dw for each trainable weight] with
    L = sum(output * dout): the same quantities the NumPy forward + backward compute."""
    import tensorflow as tf

    @tf.function
    def step(x, dout):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = keras_layer(x)
            loss = tf.reduce_sum(out * dout)
        return [out] + tape.gradient(loss, [x] + keras_layer.trainable_weights)

    return step


def time_numpy_vs_keras(numpy_step, keras_layer, x, dout, repeats, warmup=5):
    """(NumPy median, Keras median) seconds: ``numpy_step()`` (forward + backward, returning dx)
    against ``keras_layer``'s compiled step on the same ``x`` and ``dout``, after checking that the
    two give the same dx (float32 tolerance)."""
    import numpy as np
    import tensorflow as tf

    x_t, dout_t = tf.constant(x), tf.constant(dout)
    keras_step = compiled_keras_step(keras_layer)

    def keras_run():
        return keras_step(x_t, dout_t)[1].numpy()  # .numpy() waits for the result

    assert np.allclose(numpy_step(), keras_run(), rtol=1e-4, atol=1e-4), "NumPy and Keras disagree"
    return median_time(numpy_step, repeats, warmup), median_time(keras_run, repeats, warmup)
