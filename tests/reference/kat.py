# Reference values for churncal's known-answer tests.
# Run: python3 tests/reference/kat.py   (numpy, scipy, statsmodels, scikit-learn)
import numpy as np
import statsmodels.api as sm
from scipy.optimize import minimize
from sklearn.metrics import roc_auc_score, log_loss, brier_score_loss

def data(n=300):
    X = np.zeros((n, 3)); y = np.zeros(n, dtype=int)
    for i in range(n):
        X[i, 0] = ((i * 37) % 101) / 100
        X[i, 1] = ((i * 53 + 11) % 89) / 88
        X[i, 2] = ((i * 17 + 5) % 71) / 70
        z = 1.5 - 3 * X[i, 0] - 1.5 * X[i, 1] + 0.2 * X[i, 2]
        u = ((i * 7919) % 1000) / 1000
        y[i] = 1 if u < 1 / (1 + np.exp(-z)) else 0
    return X, y

X, y = data()
np.set_printoptions(precision=17)
print("events", y.sum())
res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-14, maxiter=200)
print("logit params", repr(res.params))
print("logit bse", repr(res.bse))

def f(theta, lam, prior):
    a, b = theta[0], theta[1:]
    eta = a - X @ b
    nll = np.mean(np.logaddexp(0, eta) - y * eta)
    return nll + lam * np.sum((b - prior) ** 2)

for lam in [0.0, 0.01]:
    prior = np.array([1.0, 1.0, 1.0])
    r = minimize(f, x0=np.array([0.0, 1.0, 1.0, 1.0]), args=(lam, prior), method="L-BFGS-B",
                 bounds=[(None, None), (0, None), (0, None), (0, None)],
                 options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    b = r.x[1:]
    print("lbfgsb lam", lam, "alpha", repr(r.x[0]), "beta", repr(b), "weights", repr(100 * b / b.sum()))

p = 1 / (1 + np.exp(-(res.params[0] + X @ res.params[1:])))
print("auc", repr(roc_auc_score(y, p)), "logloss", repr(log_loss(y, p)), "brier", repr(brier_score_loss(y, p)))
Y = [0, 0, 1, 1, 0, 1, 0, 0]; S = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.05, 0.2]
print("small auc", roc_auc_score(Y, S), "logloss", log_loss(Y, S), "brier", brier_score_loss(Y, S))

# Kaplan–Meier (src/analysis/survival.rs): lifelines KaplanMeierFitter
from lifelines import KaplanMeierFitter
T = [5, 6, 6, 2, 4, 4, 8, 9, 3, 7, 7, 10]; E = [1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1]
kmf = KaplanMeierFitter().fit(T, E)
tl = kmf.survival_function_.index.values
d = kmf.event_table
var = np.cumsum(np.where(d["at_risk"] - d["observed"] == 0, 0, d["observed"] / (d["at_risk"] * (d["at_risk"] - d["observed"]))))
print("km t", list(tl))
print("km S", [repr(v) for v in kmf.survival_function_.iloc[:, 0].values])
print("km ci", [(repr(a), repr(b)) for a, b in kmf.confidence_interval_.values])
print("km greenwood", [repr(v) for v in var])
print("km median", kmf.median_survival_time_)
entry = [0, 1, 2, 0, 0, 3, 1, 4, 0, 2, 5, 0]
kmf2 = KaplanMeierFitter().fit(T, E, entry=entry)
print("km entry", [(t, repr(s), n) for t, s, n in zip(kmf2.survival_function_.index.values, kmf2.survival_function_.iloc[:, 0].values, kmf2.event_table["at_risk"].values)])
pop = kmf2.event_table["at_risk"].values - np.r_[0, kmf2.event_table["entrance"].values[1:]]
print("km entry population", list(pop))
