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

# Validation statistics (src/stats/validation.rs)
def vdata():
    a, b, y = [], [], []
    for i in range(60):
        yi = 1 if (i * 7) % 5 < 2 else 0
        a.append((i * 13) % 17 + 6.0 * yi)
        b.append((i * 11) % 23 + 4.0 * yi + (i % 3))
        y.append(yi)
    return np.array(a), np.array(b), np.array(y)

va, vb, vy = vdata()
def psi_(x, yv):  # DeLong 1988: ψ(X, Y) = 1 if X > Y, ½ if equal, 0 otherwise
    return (x > yv) + 0.5 * (x == yv)
def delong_pairwise(s, y):
    X, Y = s[y == 1], s[y == 0]
    P = psi_(X[:, None], Y[None, :])
    return P.mean(), P.mean(axis=1), P.mean(axis=0)
auc_a, v10a, v01a = delong_pairwise(va, vy)
auc_b, v10b, v01b = delong_pairwise(vb, vy)
m, n = len(v10a), len(v01a)
S10 = np.cov(np.vstack([v10a, v10b])); S01 = np.cov(np.vstack([v01a, v01b]))
S = S10 / m + S01 / n
z = (auc_a - auc_b) / np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1])
print("delong", repr(auc_a), repr(auc_b), repr(S[0, 0]), repr(S[1, 1]), repr(S[0, 1]), repr(z))

p = 0.05 + va / 30.0
lp = np.log(p / (1 - p))
slope_fit = sm.Logit(vy, sm.add_constant(lp)).fit(disp=0, tol=1e-14)
int_fit = sm.GLM(vy, np.ones((60, 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-14)
order = np.argsort(p, kind="stable")
ece = rel = res = 0.0
ybar = vy.mean()
for k in range(5):
    part = order[k * 60 // 5:(k + 1) * 60 // 5]
    pk, ok = p[part].mean(), vy[part].mean()
    w = len(part) / 60
    ece += w * abs(ok - pk); rel += w * (pk - ok) ** 2; res += w * (ok - ybar) ** 2
sz = np.sum((vy - p) * (1 - 2 * p)) / np.sqrt(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
print("calibration slope", repr(slope_fit.params[1]), "intercept", repr(int_fit.params[0]),
      "ece", repr(ece), "spiegelhalter", repr(sz), "rel", repr(rel), "res", repr(res), "unc", repr(ybar * (1 - ybar)))
