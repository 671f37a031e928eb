"""What the benchmarks share: a median timer, Keras's compiled forward + backward step, the
NumPy-vs-Keras timing of one step and the lines that report it."""
import os
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


def compiled_keras_step(keras_layer, call=None):
    """A tf.function (x, dout) -> [output, dL/dx, dL/dw for each trainable weight] with
    L = sum(output * dout): the same quantities the NumPy forward + backward compute.
    ``call(x) -> output`` calls the layer (default: ``keras_layer(x)``), e.g.
    ``lambda x: keras_layer(x, training=True)``."""
    import tensorflow as tf

    call = keras_layer if call is None else call

    @tf.function
    def step(x, dout):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = call(x)
            loss = tf.reduce_sum(out * dout)
        return [out] + tape.gradient(loss, [x] + keras_layer.trainable_weights)

    return step


def time_numpy_vs_keras(numpy_step, keras_layer, x, dout, repeats, warmup=5, rtol=1e-4, call=None):
    """(NumPy median, Keras median) seconds: ``numpy_step()`` (forward + backward, returning dx)
    against ``keras_layer``'s compiled step (``compiled_keras_step(keras_layer, call)``) on the same
    ``x`` and ``dout``, after checking that the two give the same dx (float32 tolerance: ``rtol``,
    atol 1e-4)."""
    import numpy as np
    import tensorflow as tf

    x_t, dout_t = tf.constant(x), tf.constant(dout)
    keras_step = compiled_keras_step(keras_layer, call)

    def keras_run():
        return keras_step(x_t, dout_t)[1].numpy()  # .numpy() waits for the result

    assert np.allclose(numpy_step(), keras_run(), rtol=rtol, atol=1e-4), "NumPy and Keras disagree"
    return median_time(numpy_step, repeats, warmup), median_time(keras_run, repeats, warmup)


def blas_info():
    """NumPy's BLAS libraries and their threads, e.g. "openblas 1 thread(s)" ("unknown" without
    threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return "unknown"
    return ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info()
                     if i["user_api"] == "blas")


def cpu_line():
    """"CPU (<n> cores; NumPy BLAS: <blas_info()>)", for a benchmark's heading."""
    return f"CPU ({os.cpu_count()} cores; NumPy BLAS: {blas_info()})"


def print_ratio(t_numpy, t_keras, goal, numpy_label="NumPy"):
    """Print the two median times (ms) and the ratio NumPy / Keras against its ``goal``; return the ratio."""
    width = max(len(numpy_label), len("Keras"))
    ratio = t_numpy / t_keras
    print(f"  {numpy_label:<{width}} : {t_numpy * 1e3:8.3f} ms")
    print(f"  {'Keras':<{width}} : {t_keras * 1e3:8.3f} ms  (tf.function + GradientTape)")
    print(f"  ratio NumPy/Keras: {ratio:.2f}x  (goal <= {goal}x)")
    return ratio
