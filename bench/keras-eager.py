"""Keras compiled vs eager, and TensorFlow eager op costs, for the README's performance notes.

Run with the benchmark venv: .venv-bench/bin/python bench/keras-eager.py
Trains the MNIST-sized MLP (784-256-128-10, Adam, batch 128) on random data both ways, and times
the two ops bench/profile-child.ts times in tfjs-node (`npm run bench -- profile`).
"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def per_call_us(fn, n=500):
    for _ in range(20):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        r = fn()
    r.numpy()
    return (time.perf_counter() - t0) / n * 1e6


w, v, x1 = tf.random.normal([784, 256]), tf.random.normal([784, 256]), tf.random.normal([128, 784])
print(f"add of two 784x256 tensors: {per_call_us(lambda: tf.add(w, v)):.0f} us")
print(f"matmul 128x784 by 784x256: {per_call_us(lambda: tf.matmul(x1, w)):.0f} us")

x = np.random.rand(10000, 784).astype("float32")
y = keras.utils.to_categorical(np.random.randint(0, 10, 10000), 10)
for eager in (False, True):
    m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", run_eagerly=eager)
    m.fit(x, y, batch_size=128, epochs=1, verbose=0)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        m.fit(x, y, batch_size=128, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    print(f"keras MLP batch 128, {'eager (run_eagerly=True)' if eager else 'compiled'}: {10000 / min(times):.0f} samples/s")
