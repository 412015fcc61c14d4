"""Keras (TensorFlow 2.18) and PyTorch (CPU) on the same MNIST arrays, models, optimizer and
batch sizes as Descent's engine, for `npm run bench`'s training table.

    python bench/frameworks.py keras|torch REQUEST.json

REQUEST.json: {"x": path, "y": path, "threads": {"intra": 2, "inter": 2}, "cases": [...]}, each
case {"model": "mlp"|"cnn", "batchSize", "samples", "epochs", "warmupEpochs"}. x and y are raw
little-endian float32 (n x 784, n x 10). Prints one JSON line: {"framework", "versions", "results"}.
Epoch times are wall time of the epoch loop (shuffle included), as Descent's durationMs is.
"""
import json
import os
import sys
import time

import numpy as np


def load(req):
    x = np.fromfile(req["x"], dtype="<f4").reshape(-1, 784)
    y = np.fromfile(req["y"], dtype="<f4").reshape(-1, 10)
    return x, y


def run_keras(req, x_all, y_all):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    # Pinned before any op runs; the same counts go to PyTorch (and are TF's defaults on 2 cores).
    tf.config.threading.set_intra_op_parallelism_threads(req["threads"]["intra"])
    tf.config.threading.set_inter_op_parallelism_threads(req["threads"]["inter"])

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append((time.perf_counter() - self.t0) * 1000)
            self.loss = float(logs["loss"])

    def build(name):
        L = keras.layers
        if name == "mlp":
            layers = [L.Input((784,)), L.Dense(256, activation="relu"), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]
        else:
            layers = [
                L.Input((28, 28, 1)),
                L.Conv2D(16, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Conv2D(32, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Flatten(),
                L.Dense(10, activation="softmax"),
            ]
        return keras.Sequential(layers)

    results = []
    for c in req["cases"]:
        keras.utils.set_random_seed(7)
        n = min(c["samples"], len(x_all))
        x = x_all[:n] if c["model"] == "mlp" else x_all[:n].reshape(-1, 28, 28, 1)
        model = build(c["model"])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="categorical_crossentropy")
        timer = EpochTimer()
        timer.times = []
        model.fit(x, y_all[:n], batch_size=c["batchSize"], epochs=c["warmupEpochs"] + c["epochs"], shuffle=True, verbose=0, callbacks=[timer])
        results.append(result(c, n, timer.times, timer.loss))
    return {"framework": "keras", "versions": {"tensorflow": tf.__version__, "keras": keras.__version__}, "results": results}


def run_torch(req, x_all, y_all):
    import torch
    from torch import nn

    torch.set_num_threads(req["threads"]["intra"])
    torch.set_num_interop_threads(req["threads"]["inter"])

    def build(name):
        if name == "mlp":
            return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        return nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
        )

    results = []
    for c in req["cases"]:
        torch.manual_seed(7)
        n = min(c["samples"], len(x_all))
        x = torch.from_numpy(x_all[:n].copy())
        if c["model"] == "cnn":
            x = x.reshape(-1, 1, 28, 28)  # channels first, torch's layout
        # Softmax + categorical cross-entropy on one-hot targets, fused as torch does it.
        y = torch.from_numpy(y_all[:n].argmax(1))
        model = build(c["model"])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        times, loss_value = [], None
        bs = c["batchSize"]
        for _ in range(c["warmupEpochs"] + c["epochs"]):
            t0 = time.perf_counter()
            perm = torch.randperm(n)
            total = 0.0
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)  # as Keras and Descent, which report the epoch loss
            loss_value = total / n
            times.append((time.perf_counter() - t0) * 1000)
        results.append(result(c, n, times, loss_value))
    return {"framework": "torch", "versions": {"torch": torch.__version__}, "results": results}


def result(c, n, times, loss):
    measured = sorted(times[c["warmupEpochs"]:])
    med = measured[len(measured) // 2]
    return {**c, "samples": n, "epochMs": times, "samplesPerSecond": n / (med / 1000), "finalLoss": loss}


def main():
    framework, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        req = json.load(f)
    x, y = load(req)
    out = run_keras(req, x, y) if framework == "keras" else run_torch(req, x, y)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
