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
