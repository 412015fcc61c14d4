#!/usr/bin/env python3
"""Cross-check of the fixture: an independent float64 NumPy re-implementation of every
optimizer rule (no torch), run on all single-layer linear/MSE cases (the mlp cases are
skipped). Prints the largest difference from test/fixtures/optimizer-trajectories.json;
it should be ~1e-7 (float32 rounding). Doubles as a readable statement of each rule.

    /work/torch-venv/bin/python scripts/reference/check_rules_numpy.py   (needs only numpy)
"""
import json
import sys
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "optimizer-trajectories.json"
d = json.loads(FIXTURE.read_text())
def run(c):
    P = d['problems'][c['problem']]; o = c['optimizer']
    X = np.array(P['x']); Y = np.array(P['y']); L = P['layers'][0]
    assert len(P['layers']) == 1 and L['activation'] == 'linear'
    W = np.array(L['kernel'], float); b = np.array(L['bias'], float)
    l1, l2 = P['kernelRegularizer']['l1'], P['kernelRegularizer']['l2']
    n = len(X); bs = n if c['batchSize'] == 'full' else c['batchSize']
    st = {}; t = 0; out = []
    for ep in range(c['epochs']):
        tot = 0
        for s in range(0, n, bs):
            xb, yb = X[s:s+bs], Y[s:s+bs]
            r = xb @ W + b - yb
            loss = np.mean(r**2) + l1*np.abs(W).sum() + l2*(W**2).sum()
            tot += loss*len(xb)
            gW = 2*xb.T @ r / r.size + l1*np.sign(W) + 2*l2*W; gb = 2*r.sum(0)/r.size
            ps, gs = [W, b], [gW, gb]
            if 'clipValue' in o: gs = [np.clip(g, -o['clipValue'], o['clipValue']) for g in gs]
            if 'clipNorm' in o:
                nrm = np.sqrt(sum((g**2).sum() for g in gs)); k = min(1.0, o['clipNorm']/(nrm+1e-6)); gs = [g*k for g in gs]
            t += 1; lr = o['learningRate']; wd = o['weightDecay']; N = o['name']
            for i, (p, g) in enumerate(zip(ps, gs)):
                S = st.setdefault(i, {})
                if N not in ('adamw', 'lion'): g = g + wd*p
                if N in ('sgd', 'momentum', 'nesterov'):
                    if N == 'sgd': p -= lr*g
                    else:
                        S['buf'] = o['momentum']*S.get('buf', 0) + g
                        p -= lr*(g + o['momentum']*S['buf'] if N == 'nesterov' else S['buf'])
                elif N == 'adagrad':
                    S['s'] = S.get('s', o['initialAccumulatorValue']) + g*g; p -= lr*g/(np.sqrt(S['s'])+o['epsilon'])
                elif N == 'adadelta':
                    rho, e = o['rho'], o['epsilon']
                    S['v'] = rho*S.get('v', 0) + (1-rho)*g*g
                    dl = np.sqrt(S.get('u', 0)+e)/np.sqrt(S['v']+e)*g
                    S['u'] = rho*S.get('u', 0) + (1-rho)*dl*dl; p -= lr*dl
                elif N == 'rmsprop':
                    a = o['rho']; S['v'] = a*S.get('v', 0) + (1-a)*g*g
                    if o['centered']:
                        S['ga'] = a*S.get('ga', 0) + (1-a)*g; den = np.sqrt(S['v'] - S['ga']**2) + o['epsilon']
                    else: den = np.sqrt(S['v']) + o['epsilon']
                    if o['momentum'] > 0:
                        S['buf'] = o['momentum']*S.get('buf', 0) + g/den; p -= lr*S['buf']
                    else: p -= lr*g/den
                elif N in ('adam', 'amsgrad', 'adamw'):
                    b1, b2 = o['beta1'], o['beta2']
                    if N == 'adamw': p *= 1 - lr*wd
                    S['m'] = b1*S.get('m', 0) + (1-b1)*g; S['v'] = b2*S.get('v', 0) + (1-b2)*g*g
                    v = S['v']
                    if N == 'amsgrad': S['vm'] = np.maximum(S.get('vm', 0), S['v']); v = S['vm']
                    p -= lr/(1-b1**t) * S['m']/(np.sqrt(v)/np.sqrt(1-b2**t) + o['epsilon'])
                elif N == 'adamax':
                    b1, b2 = o['beta1'], o['beta2']
                    S['m'] = b1*S.get('m', 0) + (1-b1)*g; S['u'] = np.maximum(b2*S.get('u', 0), np.abs(g)+o['epsilon'])
                    p -= lr/(1-b1**t) * S['m']/S['u']
                elif N == 'nadam':
                    b1, b2, psi = o['beta1'], o['beta2'], o['momentumDecay']
                    mu = b1*(1-0.5*0.96**(t*psi)); mu1 = b1*(1-0.5*0.96**((t+1)*psi))
                    S['mp'] = S.get('mp', 1.0)*mu; mp = S['mp']
                    S['m'] = b1*S.get('m', 0) + (1-b1)*g; S['v'] = b2*S.get('v', 0) + (1-b2)*g*g
                    den = np.sqrt(S['v']/(1-b2**t)) + o['epsilon']
                    p -= lr*(1-mu)/(1-mp)*g/den + lr*mu1/(1-mp*mu1)*S['m']/den
                elif N == 'lion':
                    b1, b2 = o['beta1'], o['beta2']; m = S.get('m', 0)
                    p *= 1 - lr*wd; p -= lr*np.sign(b1*m + (1-b1)*g); S['m'] = b2*m + (1-b2)*g
        out.append((tot/n, W.copy(), b.copy()))
    return out
worst = {}
for c in d['cases']:
    if c['problem'] == 'mlp': continue
    mine = run(c)
    for (l, W, b), e in zip(mine, c['trajectory']):
        dW = max(np.abs(W - np.array(e['layers'][0]['kernel'])).max(), np.abs(b - np.array(e['layers'][0]['bias'])).max())
        dl = abs(l - e['loss'])
        worst[c['name']] = max(worst.get(c['name'], 0), dW, dl)
for k, v in sorted(worst.items(), key=lambda kv: -kv[1])[:8]: print(f'{v:.2e} {k}')
print('cases checked', len(worst), 'max diff', max(worst.values()))
sys.exit(0 if max(worst.values()) < 1e-5 else 1)
