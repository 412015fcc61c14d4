#!/usr/bin/env python3
"""PyTorch reference trajectories for Descent's optimizer-exactness tests.

Trains tiny dense networks with torch.optim (plus a hand-written Lion) and writes
test/fixtures/optimizer-trajectories.json: for every case, the epoch loss and the
weights after each epoch. Everything is float32 and deterministic: data and initial
weights are literals below, batches are taken in dataset order (no shuffle).

Run from anywhere:  /work/torch-venv/bin/python scripts/reference/torch_trajectories.py
See README.md beside this file.
"""
from __future__ import annotations

import inspect
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_PATH = REPO_ROOT / "test" / "fixtures" / "optimizer-trajectories.json"
GENERATED_BY = "scripts/reference/torch_trajectories.py"

BCE_EPSILON = 1e-7  # tfjs-layers binaryCrossentropy clips p to [eps, 1 - eps]

# --------------------------------------------------------------------------------------
# Problems. Kernels are in tfjs/Keras layout: kernel[inputDim][units] (= torch weight.T).
# --------------------------------------------------------------------------------------
LINEAR_X = [
    [0.5, -0.2, 0.1],
    [0.9, 0.4, -0.6],
    [-0.3, 0.8, 0.5],
    [0.2, -0.7, 0.9],
    [-0.8, 0.1, -0.4],
    [0.6, 0.6, 0.3],
    [-0.5, -0.9, -0.2],
    [0.1, 0.3, -0.8],
]
# y ~= 0.5*x1 - 0.3*x2 + 0.8*x3 + 0.2 + small noise, rounded
LINEAR_Y = [[0.61], [0.02], [0.22], [1.27], [-0.57], [0.59], [0.05], [-0.52]]

LINEAR2_X = [
    [0.3, -0.6],
    [0.8, 0.2],
    [-0.4, 0.7],
    [0.1, 0.9],
    [-0.9, -0.3],
    [0.5, -0.8],
    [-0.2, 0.4],
    [0.7, 0.6],
]
# y1 ~= 0.6*x1 + 0.4*x2 - 0.1, y2 ~= -0.5*x1 + 0.9*x2 + 0.3, plus small noise
LINEAR2_Y = [
    [-0.15, -0.41],
    [0.43, 0.1],
    [-0.04, 1.14],
    [0.31, 1.03],
    [-0.73, 0.5],
    [-0.12, -0.68],
    [-0.08, 0.79],
    [0.57, 0.49],
]

# XOR-like: corners plus jittered corners
MLP_X = [
    [0.0, 0.0],
    [0.0, 1.0],
    [1.0, 0.0],
    [1.0, 1.0],
    [0.1, 0.2],
    [0.2, 0.9],
    [0.9, 0.1],
    [0.8, 0.8],
]
MLP_Y = [[0.0], [1.0], [1.0], [0.0], [0.0], [1.0], [1.0], [0.0]]


def dense(units, activation, kernel, bias):
    return {"units": units, "activation": activation, "kernel": kernel, "bias": bias}


def zeros(rows, cols):
    return [[0.0] * cols for _ in range(rows)]


NO_REG = {"l1": 0, "l2": 0}

PROBLEMS = {
    "linear": {
        "x": LINEAR_X,
        "y": LINEAR_Y,
        "layers": [dense(1, "linear", zeros(3, 1), [0.0])],
        "loss": "meanSquaredError",
        "kernelRegularizer": NO_REG,
    },
    # Same data as `linear`. The kernel starts small but NON-zero on purpose: at w == 0
    # the L1 subgradient differs between frameworks (torch: d|w|/dw = sign(0) = 0,
    # tfjs: abs grad = step(w, -1) = -1), which would make the very first step
    # convention-dependent rather than optimizer-dependent. The bias is not regularized
    # and starts at zero.
    "linear-regularized": {
        "x": LINEAR_X,
        "y": LINEAR_Y,
        "layers": [dense(1, "linear", [[0.05], [-0.05], [0.1]], [0.0])],
        "loss": "meanSquaredError",
        "kernelRegularizer": {"l1": 0.01, "l2": 0.05},
    },
    # Zero-initialised and L1-regularized: the L1 subgradient at w == 0 is torch's sign(0) = 0,
    # which Descent follows (tfjs' own abs gradient would give -1 there).
    "linear-l1-zero": {
        "x": LINEAR_X,
        "y": LINEAR_Y,
        "layers": [dense(1, "linear", zeros(3, 1), [0.0])],
        "loss": "meanSquaredError",
        "kernelRegularizer": {"l1": 0.01, "l2": 0.05},
    },
    "linear-2out": {
        "x": LINEAR2_X,
        "y": LINEAR2_Y,
        "layers": [dense(2, "linear", zeros(2, 2), [0.0, 0.0])],
        "loss": "meanSquaredError",
        "kernelRegularizer": NO_REG,
    },
    "mlp": {
        "x": MLP_X,
        "y": MLP_Y,
        "layers": [
            dense(4, "tanh", [[0.5, -0.4, 0.3, -0.6], [-0.3, 0.6, 0.45, -0.2]], [0.05, -0.1, 0.02, 0.08]),
            dense(1, "sigmoid", [[0.7], [-0.5], [0.4], [-0.6]], [0.03]),
        ],
        "loss": "binaryCrossentropy",
        "kernelRegularizer": NO_REG,
    },
}

# --------------------------------------------------------------------------------------
# Optimizers: Descent names/defaults -> torch.optim
# --------------------------------------------------------------------------------------
DESCENT_DEFAULTS = {
    "sgd": {"learningRate": 0.001, "weightDecay": 0},
    "momentum": {"learningRate": 0.001, "momentum": 0.9, "weightDecay": 0},
    "nesterov": {"learningRate": 0.001, "momentum": 0.9, "weightDecay": 0},
    "adagrad": {"learningRate": 0.01, "initialAccumulatorValue": 0, "epsilon": 1e-10, "weightDecay": 0},
    "adadelta": {"learningRate": 1.0, "rho": 0.9, "epsilon": 1e-6, "weightDecay": 0},
    "rmsprop": {"learningRate": 0.01, "rho": 0.99, "epsilon": 1e-8, "momentum": 0, "centered": False, "weightDecay": 0},
    "adam": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0},
    "amsgrad": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0},
    "adamw": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0.01},
    "adamax": {"learningRate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0},
    "nadam": {
        "learningRate": 0.002, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0, "momentumDecay": 0.004,
    },
    "lion": {"learningRate": 1e-4, "beta1": 0.9, "beta2": 0.99, "weightDecay": 0},
}


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), as lucidrains/lion-pytorch:
    p <- p * (1 - lr * wd); p <- p - lr * sign(beta1 * m + (1 - beta1) * g); m <- beta2 * m + (1 - beta2) * g.
    """

    def __init__(self, params, lr, betas, weight_decay):
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})
        self.zero_sign_components = 0  # sanity: sign(0) is a convention hazard

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - lr * wd)
                c = m.mul(beta1).add(g, alpha=1 - beta1)
                self.zero_sign_components += int((c == 0).sum())
                p.add_(torch.sign(c), alpha=-lr)
                m.mul_(beta2).add_(g, alpha=1 - beta2)


def make_optimizer(params, o):
    n = o["name"]
    lr = o["learningRate"]
    wd = o["weightDecay"]
    if n == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0, dampening=0, weight_decay=wd, nesterov=False, foreach=False)
    if n in ("momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=o["momentum"], dampening=0, weight_decay=wd, nesterov=(n == "nesterov"), foreach=False
        )
    if n == "adagrad":
        return torch.optim.Adagrad(
            params, lr=lr, lr_decay=0, weight_decay=wd, initial_accumulator_value=o["initialAccumulatorValue"],
            eps=o["epsilon"], foreach=False,
        )
    if n == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=o["rho"], eps=o["epsilon"], weight_decay=wd, foreach=False)
    if n == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=lr, alpha=o["rho"], eps=o["epsilon"], weight_decay=wd, momentum=o["momentum"],
            centered=o["centered"], foreach=False,
        )
    betas = (o["beta1"], o["beta2"]) if "beta1" in o else None
    if n in ("adam", "amsgrad"):
        return torch.optim.Adam(
            params, lr=lr, betas=betas, eps=o["epsilon"], weight_decay=wd, amsgrad=(n == "amsgrad"), foreach=False
        )
    if n == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=o["epsilon"], weight_decay=wd, amsgrad=False, foreach=False)
    if n == "adamax":
        return torch.optim.Adamax(params, lr=lr, betas=betas, eps=o["epsilon"], weight_decay=wd, foreach=False)
    if n == "nadam":
        return torch.optim.NAdam(
            params, lr=lr, betas=betas, eps=o["epsilon"], weight_decay=wd, momentum_decay=o["momentumDecay"],
            decoupled_weight_decay=False, foreach=False,
        )
    if n == "lion":
        return Lion(params, lr=lr, betas=betas, weight_decay=wd)
    raise ValueError(n)


# Descent default -> torch keyword, used only to assert that the "defaults" cases really are
# PyTorch's defaults (except momentum/nesterov momentum, which Descent defaults to 0.9).
TORCH_KW = {
    "sgd": (torch.optim.SGD, {"learningRate": "lr", "weightDecay": "weight_decay"}),
    "momentum": (torch.optim.SGD, {"learningRate": "lr", "weightDecay": "weight_decay"}),
    "nesterov": (torch.optim.SGD, {"learningRate": "lr", "weightDecay": "weight_decay"}),
    "adagrad": (torch.optim.Adagrad, {"learningRate": "lr", "initialAccumulatorValue": "initial_accumulator_value",
                                      "epsilon": "eps", "weightDecay": "weight_decay"}),
    "adadelta": (torch.optim.Adadelta, {"learningRate": "lr", "rho": "rho", "epsilon": "eps", "weightDecay": "weight_decay"}),
    "rmsprop": (torch.optim.RMSprop, {"learningRate": "lr", "rho": "alpha", "epsilon": "eps", "momentum": "momentum",
                                      "centered": "centered", "weightDecay": "weight_decay"}),
    "adam": (torch.optim.Adam, {"learningRate": "lr", "epsilon": "eps", "weightDecay": "weight_decay"}),
    "amsgrad": (torch.optim.Adam, {"learningRate": "lr", "epsilon": "eps", "weightDecay": "weight_decay"}),
    "adamw": (torch.optim.AdamW, {"learningRate": "lr", "epsilon": "eps", "weightDecay": "weight_decay"}),
    "adamax": (torch.optim.Adamax, {"learningRate": "lr", "epsilon": "eps", "weightDecay": "weight_decay"}),
    "nadam": (torch.optim.NAdam, {"learningRate": "lr", "epsilon": "eps", "weightDecay": "weight_decay",
                                  "momentumDecay": "momentum_decay"}),
}


# Known, intentional differences (Descent default vs torch default): none. (Descent's
# `momentum` and `nesterov` default momentum to 0.9 since torch's 0 would make them plain SGD;
# TORCH_KW does not map that parameter for them.)
KNOWN_DEFAULT_DIFFERENCES = set()


def check_defaults_match_torch():
    for name, (cls, kw) in TORCH_KW.items():
        sig = inspect.signature(cls.__init__).parameters
        for descent_key, torch_key in kw.items():
            tv = sig[torch_key].default
            dv = DESCENT_DEFAULTS[name][descent_key]
            if float(tv) != float(dv):
                if (name, descent_key) in KNOWN_DEFAULT_DIFFERENCES:
                    print(f"note: {name}.{descent_key}: Descent default {dv} != torch default {tv} (known)")
                    continue
                raise AssertionError(f"{name}.{descent_key}: Descent default {dv} != torch default {tv}")
        if "betas" in sig and "beta1" in DESCENT_DEFAULTS[name]:
            if tuple(sig["betas"].default) != (DESCENT_DEFAULTS[name]["beta1"], DESCENT_DEFAULTS[name]["beta2"]):
                raise AssertionError(f"{name}: betas default {sig['betas'].default}")


# --------------------------------------------------------------------------------------
# Model, loss, training
# --------------------------------------------------------------------------------------
ACTIVATIONS = {"linear": lambda z: z, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


def build_model(problem):
    layers = []
    in_dim = len(problem["x"][0])
    for spec in problem["layers"]:
        lin = torch.nn.Linear(in_dim, spec["units"], bias=True)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(spec["kernel"], dtype=torch.float32).T)  # Keras [in][units] -> torch [units][in]
            lin.bias.copy_(torch.tensor(spec["bias"], dtype=torch.float32))
        layers.append((lin, spec["activation"]))
        in_dim = spec["units"]
    return layers


def forward(layers, x):
    h = x
    for lin, act in layers:
        h = ACTIVATIONS[act](lin(h))
    return h


def data_loss(kind, pred, y):
    if kind == "meanSquaredError":
        return F.mse_loss(pred, y, reduction="mean")
    if kind == "binaryCrossentropy":
        p = torch.clamp(pred, BCE_EPSILON, 1 - BCE_EPSILON)
        return torch.mean(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)))
    raise ValueError(kind)


def regularization(layers, reg):
    total = torch.zeros((), dtype=torch.float32)
    for lin, _ in layers:
        if reg["l1"]:
            total = total + reg["l1"] * torch.sum(torch.abs(lin.weight))
        if reg["l2"]:
            total = total + reg["l2"] * torch.sum(torch.square(lin.weight))
    return total


def f32(v: float) -> float:
    """Shortest decimal that round-trips the float32 value (keeps the JSON compact and exact)."""
    return float(str(np.float32(v)))


def snapshot(layers):
    return [
        {
            "kernel": [[f32(v) for v in row] for row in lin.weight.detach().T.tolist()],
            "bias": [f32(v) for v in lin.bias.detach().tolist()],
        }
        for lin, _ in layers
    ]


def run_case(case):
    problem = PROBLEMS[case["problem"]]
    o = case["optimizer"]
    layers = build_model(problem)
    params = [p for lin, _ in layers for p in (lin.weight, lin.bias)]
    opt = make_optimizer(params, o)
    x = torch.tensor(problem["x"], dtype=torch.float32)
    y = torch.tensor(problem["y"], dtype=torch.float32)
    n = x.shape[0]
    bs = n if case["batchSize"] == "full" else int(case["batchSize"])
    init = [p.detach().clone() for p in params]
    stats = {"steps": 0, "clipValueActive": 0, "clipNormActive": 0}
    trajectory = []
    for epoch in range(1, case["epochs"] + 1):
        weighted = 0.0
        for start in range(0, n, bs):
            xb, yb = x[start:start + bs], y[start:start + bs]
            opt.zero_grad(set_to_none=True)
            loss = data_loss(problem["loss"], forward(layers, xb), yb) + regularization(layers, problem["kernelRegularizer"])
            loss.backward()
            if "clipValue" in o:
                before = [p.grad.clone() for p in params]
                torch.nn.utils.clip_grad_value_(params, o["clipValue"], foreach=False)
                stats["clipValueActive"] += any(not torch.equal(b, p.grad) for b, p in zip(before, params))
            if "clipNorm" in o:
                total = torch.nn.utils.clip_grad_norm_(params, o["clipNorm"], norm_type=2.0, foreach=False)
                stats["clipNormActive"] += float(total) > o["clipNorm"]
            opt.step()
            stats["steps"] += 1
            weighted += float(loss.item()) * xb.shape[0]
        epoch_loss = weighted / n
        if not math.isfinite(epoch_loss):
            raise AssertionError(f"{case['name']}: non-finite loss")
        trajectory.append({"epoch": epoch, "loss": epoch_loss, "layers": snapshot(layers)})
    change = max(float((p.detach() - p0).abs().max()) for p, p0 in zip(params, init))
    scale = max(1.0, max(float(p0.abs().max()) for p0 in init))
    stats["relChange"] = change / scale
    if isinstance(opt, Lion):
        stats["lionZeroSign"] = opt.zero_sign_components
    if o["name"] == "amsgrad":
        stats["amsgradMaxActive"] = any(
            bool((s["max_exp_avg_sq"] > s["exp_avg_sq"]).any()) for s in opt.state.values()
        )
    return trajectory, stats


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
CASES = []


def case(optimizer, setting, problem, batch, overrides=None, epochs=None, kind=None):
    o = {"name": optimizer, **DESCENT_DEFAULTS[optimizer], **(overrides or {})}
    unknown = set(overrides or {}) - set(DESCENT_DEFAULTS[optimizer]) - {"clipValue", "clipNorm"}
    if unknown:
        raise ValueError(f"{optimizer}: unknown params {unknown}")
    batch_name = "full" if batch == "full" else f"b{batch}"
    CASES.append({
        "name": f"{optimizer}/{setting}/{problem}/{batch_name}",
        "problem": problem,
        "optimizer": o,
        "batchSize": batch,
        "epochs": epochs if epochs is not None else (10 if problem == "mlp" else 5),
        "_kind": kind,
    })


def standard(optimizer, b_setting, b_over, mlp_setting, mlp_over, reg_setting, reg_over):
    case(optimizer, "defaults", "linear", "full", kind="a")
    case(optimizer, b_setting, "linear", 3, b_over, kind="b")
    case(optimizer, mlp_setting, "mlp", "full", mlp_over, kind="c")
    case(optimizer, reg_setting, "linear-regularized", 1, reg_over, kind="d")


standard("sgd", "lr0.1", {"learningRate": 0.1}, "lr0.5", {"learningRate": 0.5}, "lr0.05", {"learningRate": 0.05})
standard("momentum", "lr0.05-m0.8", {"learningRate": 0.05, "momentum": 0.8}, "lr0.1", {"learningRate": 0.1},
         "lr0.02", {"learningRate": 0.02})
standard("nesterov", "lr0.05-m0.8", {"learningRate": 0.05, "momentum": 0.8}, "lr0.1", {"learningRate": 0.1},
         "lr0.02", {"learningRate": 0.02})
standard("adagrad", "lr0.1", {"learningRate": 0.1}, "lr0.1", {"learningRate": 0.1}, "lr0.05", {"learningRate": 0.05})
standard("adadelta", "lr2-rho0.8-eps1e-4", {"learningRate": 2.0, "rho": 0.8, "epsilon": 1e-4},
         "lr1-eps1e-3", {"epsilon": 1e-3}, "lr1-rho0.95-eps1e-4", {"rho": 0.95, "epsilon": 1e-4})
standard("rmsprop", "lr0.05-rho0.9", {"learningRate": 0.05, "rho": 0.9}, "lr0.02", {"learningRate": 0.02},
         "lr0.01-rho0.9", {"learningRate": 0.01, "rho": 0.9})
standard("adam", "lr0.05-b0.8-0.99", {"learningRate": 0.05, "beta1": 0.8, "beta2": 0.99}, "lr0.05",
         {"learningRate": 0.05}, "lr0.02", {"learningRate": 0.02})
standard("amsgrad", "lr0.1-b0.8-0.99", {"learningRate": 0.1, "beta1": 0.8, "beta2": 0.99}, "lr0.05",
         {"learningRate": 0.05}, "lr0.02-b0.9-0.9", {"learningRate": 0.02, "beta2": 0.9})
standard("adamw", "lr0.05-wd0.1", {"learningRate": 0.05, "weightDecay": 0.1}, "lr0.05",
         {"learningRate": 0.05}, "lr0.02-wd0.05", {"learningRate": 0.02, "weightDecay": 0.05})
standard("adamax", "lr0.1", {"learningRate": 0.1}, "lr0.05", {"learningRate": 0.05},
         "lr0.02-b0.8-0.99", {"learningRate": 0.02, "beta1": 0.8, "beta2": 0.99})
standard("nadam", "lr0.05-md0.01", {"learningRate": 0.05, "momentumDecay": 0.01}, "lr0.05", {"learningRate": 0.05},
         "lr0.02", {"learningRate": 0.02})
standard("lion", "lr0.01", {"learningRate": 0.01}, "lr0.01", {"learningRate": 0.01},
         "lr0.005-b0.95-0.98", {"learningRate": 0.005, "beta1": 0.95, "beta2": 0.98})

# extras
case("sgd", "lr0.05", "linear-l1-zero", "full", {"learningRate": 0.05}, kind="b")
case("adam", "lr0.05", "linear-l1-zero", 3, {"learningRate": 0.05}, kind="b")
case("momentum", "lr0.02", "linear-l1-zero", 1, {"learningRate": 0.02}, kind="b")
case("rmsprop", "lr0.01-centered-m0.9", "linear", 3, {"learningRate": 0.01, "momentum": 0.9, "centered": True}, kind="b")
case("rmsprop", "lr0.005-centered-m0.5", "mlp", "full", {"learningRate": 0.005, "momentum": 0.5, "centered": True})
case("adagrad", "lr0.1-init0.1", "linear", 3, {"learningRate": 0.1, "initialAccumulatorValue": 0.1}, kind="b")
case("sgd", "lr0.1-wd0.1", "linear", 3, {"learningRate": 0.1, "weightDecay": 0.1}, kind="b")
case("adam", "lr0.05-wd0.1", "linear", 3, {"learningRate": 0.05, "weightDecay": 0.1}, kind="b")
case("nadam", "lr0.05-wd0.1", "linear", 3, {"learningRate": 0.05, "weightDecay": 0.1}, kind="b")
case("lion", "lr0.01-wd0.5", "linear", 3, {"learningRate": 0.01, "weightDecay": 0.5}, kind="b")
case("adam", "lr0.05-clipnorm0.5", "linear", "full", {"learningRate": 0.05, "clipNorm": 0.5}, kind="clipNorm")
case("sgd", "lr0.1-clipvalue0.1", "linear", "full", {"learningRate": 0.1, "clipValue": 0.1}, kind="clipValue")
case("momentum", "lr0.1-clipvalue0.2-clipnorm0.25", "linear", 3,
     {"learningRate": 0.1, "clipValue": 0.2, "clipNorm": 0.25}, kind="clipBoth")
case("sgd", "lr0.1", "linear-2out", 3, {"learningRate": 0.1}, kind="b")
case("momentum", "lr0.05", "linear-2out", "full", {"learningRate": 0.05}, kind="b")
case("adam", "lr0.05", "linear-2out", 3, {"learningRate": 0.05}, kind="b")
case("rmsprop", "lr0.02", "linear-2out", "full", {"learningRate": 0.02}, kind="b")


# --------------------------------------------------------------------------------------
def main():
    check_defaults_match_torch()
    names = [c["name"] for c in CASES]
    if len(names) != len(set(names)):
        raise AssertionError("duplicate case names")
    out_cases = []
    failures = []
    per_opt = {}
    for c in CASES:
        kind = c.pop("_kind")
        trajectory, stats = run_case(c)
        c["trajectory"] = trajectory
        out_cases.append(c)
        per_opt[c["optimizer"]["name"]] = per_opt.get(c["optimizer"]["name"], 0) + 1
        if kind in ("b", "clipNorm", "clipValue", "clipBoth") and stats["relChange"] <= 1e-3:
            failures.append(f"{c['name']}: weights barely move (rel change {stats['relChange']:.2e})")
        if "clipValue" in c["optimizer"] and stats["clipValueActive"] == 0:
            failures.append(f"{c['name']}: clipValue never active")
        if "clipNorm" in c["optimizer"] and stats["clipNormActive"] == 0:
            failures.append(f"{c['name']}: clipNorm never active")
        if stats.get("lionZeroSign"):
            failures.append(f"{c['name']}: Lion hit sign(0) {stats['lionZeroSign']} times")
        extra = "".join(
            f" {k}={stats[k]}" for k in ("clipValueActive", "clipNormActive", "amsgradMaxActive") if k in stats
            and (k != "clipValueActive" or "clipValue" in c["optimizer"]) and (k != "clipNormActive" or "clipNorm" in c["optimizer"])
        )
        print(f"  {c['name']:<55} loss {trajectory[0]['loss']:.5f} -> {trajectory[-1]['loss']:.5f}"
              f"  relChange {stats['relChange']:.3e} steps {stats['steps']}{extra}")

    doc_head = {"generatedBy": GENERATED_BY, "torch": torch.__version__}
    dumps = lambda v: json.dumps(v, separators=(",", ":"), allow_nan=False)  # noqa: E731
    lines = ["{"]
    for k, v in doc_head.items():
        lines.append(f" {json.dumps(k)}: {dumps(v)},")
    lines.append(' "problems": {')
    plines = [f"  {json.dumps(k)}: {dumps(v)}" for k, v in PROBLEMS.items()]
    lines.append(",\n".join(plines))
    lines.append(" },")
    lines.append(' "cases": [')
    lines.append(",\n".join(f"  {dumps(c)}" for c in out_cases))
    lines.append(" ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # well-formed
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(text)

    print(f"\nwrote {OUT_PATH.relative_to(REPO_ROOT)} ({len(text)} bytes), torch {torch.__version__}")
    print(f"{len(out_cases)} cases: " + ", ".join(f"{k} {v}" for k, v in per_opt.items()))
    if failures:
        print("\nSANITY FAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
