#!/usr/bin/env python3
"""churncal's jobs written the way a data scientist would in a notebook: pandas, numpy,
scipy's L-BFGS-B, scikit-learn and matplotlib. The baseline of `benches/e2e.sh`.

Each job does what the churncal command of the same name does with the flags e2e.sh gives
it, vectorised throughout (no Python loop over rows), with an analytic gradient for the
constrained fit, so that the comparison is with a careful Python user, not a naive one:

  score     profile sub-scores (transforms, directions, missing policies), weighted score with
            redistribution, group scores, tier, the three reason codes; CSV out
  tiers     score, one row per account and renewal decision, churn per tier with Wilson
            intervals, the ≤ 30 / ≥ 50 bands; JSON + SVG bar chart out
  calibrate the prior's slope; 5-fold GroupKFold by account over the λ grid (∞, 1 … 1e-6, 0)
            of the constrained fit (β ≥ 0, shrinkage to the prior, L-BFGS-B warm-started
            along λ), the unconstrained logistic model per fold (scikit-learn); the final fit
            at the best λ; the out-of-time holdout; integer weights; JSON + SVG out
  calibrate1 the lean peer (#29): one λ (1e-3), 5-fold GroupKFold by account of a
            non-negative linear logistic model of the sub-scores (missing ones imputed with
            the row's prior score) by L-BFGS-B with its analytic gradient, shrunk toward the
            prior; out-of-fold AUC and log-loss (scikit-learn), the final fit; JSON + SVG out
  validate  candidate vs incumbent: out-of-time split, each profile's (intercept, slope) refit
            on the development rows, AUC / log-loss / Brier on the validation rows, DeLong's
            test of the AUC difference, a paired bootstrap over accounts of the log-loss and
            Brier differences, tier tables; JSON out

Usage: churn_jobs.py JOB --data FILE --profile TOML [--incumbent TOML] --out DIR
"""
import argparse
import json
import math
import os
import tomllib

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import expit  # noqa: E402
from scipy.stats import norm  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

FLOOR = 1e-9
TRUE = {"1", "true", "yes", "y", "t"}


def load_profile(path):
    with open(path, "rb") as f:
        p = tomllib.load(f)
    metrics = p["metrics"]
    groups = {g["name"]: g["weight"] for g in p.get("groups", [])}
    if groups:
        in_group = {}
        for m in metrics:
            in_group[m.get("group", "")] = in_group.get(m.get("group", ""), 0) + m["weight"]
        total = sum(groups.values())
        w = [100 * groups.get(m.get("group", ""), 0) / total * m["weight"] / in_group[m.get("group", "")] if in_group[m.get("group", "")] else 0.0 for m in metrics]
    else:
        total = sum(m["weight"] for m in metrics)
        w = [100 * m["weight"] / total for m in metrics]
    tiers = sorted(p["tiers"], key=lambda t: -t["min"])
    return p, metrics, np.array(w), tiers


def load(path, metrics, extra=()):
    cols = ["account_id", "snapshot_date", "churned"] + list(extra) + [m["column"] for m in metrics]
    cols = list(dict.fromkeys(cols))
    if path.endswith(".parquet"):
        df = pd.read_parquet(path, columns=cols)
    else:
        df = pd.read_csv(path, usecols=cols)
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    return df


def sub_score(col, m):
    t = m["transform"]
    kind = t["kind"]
    if kind == "categories":
        s = col.astype("string").str.strip().str.lower().map({k.lower(): v for k, v in t["map"].items()}).astype(float)
    elif kind == "boolean":
        v = col.astype("string").str.strip().str.lower()
        s = pd.Series(np.where(v.isna(), np.nan, np.where(v.isin(TRUE), 100.0, 0.0)), index=col.index)
    else:
        x = pd.to_numeric(col, errors="coerce").to_numpy(float)
        if kind == "linear":
            s = 100 * (np.clip(x, t["lo"], t["hi"]) - t["lo"]) / (t["hi"] - t["lo"])
        elif kind == "log":
            a, b = math.log1p(t["lo"]), math.log1p(t["hi"])
            s = 100 * (np.log1p(np.clip(x, t["lo"], t["hi"])) - a) / (b - a)
        elif kind == "points":
            pts = np.array(t["map"], float)
            s = np.interp(x, pts[:, 0], pts[:, 1])
        elif kind == "percentile":
            br = np.array(t["breaks"], float)
            s = np.interp(x, br, np.linspace(0, 100, len(br)))
        else:
            raise SystemExit(f"unknown transform {kind}")
        s = pd.Series(np.clip(s, 0, 100), index=col.index)
    s = s.to_numpy(float)
    if m.get("direction", "higher-is-better") == "lower-is-better":
        s = 100 - s
    policy = m.get("missing", "redistribute")
    if policy == "worst":
        s = np.where(np.isnan(s), 0.0, s)
    elif policy == "neutral":
        s = np.where(np.isnan(s), 50.0, s)
    return s


def sub_scores(df, metrics):
    return np.column_stack([sub_score(df[m["column"]], m) for m in metrics]) / 100.0


def scores(X, beta):
    P = ~np.isnan(X)
    Xz = np.where(P, X, 0.0)
    b = beta + FLOOR
    with np.errstate(invalid="ignore"):  # rows with no metric present: NaN, left out
        return (Xz @ b) / (P @ b)


def tier_of(score100, tiers):
    names = np.array([t["name"] for t in tiers] + [""])
    idx = np.full(len(score100), len(tiers))
    for i, t in reversed(list(enumerate(tiers))):
        idx = np.where(score100 >= t["min"], i, idx)
    return names[idx]


def wilson(k, n, z=1.959964):
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


# ---- score -------------------------------------------------------------------------------
def job_score(a):
    p, metrics, w0, tiers = load_profile(a.profile)
    df = load(a.data, metrics)
    X = sub_scores(df, metrics)
    s = 100 * scores(X, w0)
    out = pd.DataFrame({"account_id": df["account_id"], "snapshot_date": df["snapshot_date"].dt.strftime("%Y-%m-%d"), "score": np.round(s, 2)})
    for g in dict.fromkeys(m.get("group", "") for m in metrics):
        cols = [i for i, m in enumerate(metrics) if m.get("group", "") == g]
        out[f"group_{g}"] = np.round(100 * scores(X[:, cols], w0[cols]), 2)
    out["tier"] = tier_of(s, tiers)
    # Reason codes: the three metrics whose shortfall costs the most points.
    P = ~np.isnan(X)
    wp = np.where(P, w0, 0.0)
    lost = wp * (1 - np.where(P, X, 0.0)) / wp.sum(axis=1, keepdims=True) * 100
    top = np.argsort(-lost, axis=1, kind="stable")[:, :3]
    names = np.array([m["name"] for m in metrics])
    for r in range(3):
        out[f"reason_{r + 1}"] = names[top[:, r]]
        out[f"reason_{r + 1}_points"] = np.round(np.take_along_axis(lost, top[:, r : r + 1], axis=1)[:, 0], 2)
    out.to_csv(os.path.join(a.out, "scores.csv"), index=False)


# ---- tiers -------------------------------------------------------------------------------
def decisions(df):
    """One row per account and renewal decision: the last snapshot, and every churned
    snapshot followed by a retained one."""
    order = np.lexsort((df["snapshot_date"].to_numpy(), df["account_id"].to_numpy()))
    acc = df["account_id"].to_numpy()[order]
    y = df["churned"].to_numpy()[order]
    last = np.r_[acc[1:] != acc[:-1], True]
    back = np.r_[(acc[1:] == acc[:-1]) & (y[:-1] == 1) & (y[1:] == 0), False]
    return order[last | back]


def tier_table(s, y, tiers):
    t = tier_of(s, tiers)
    g = pd.DataFrame({"tier": t, "y": y}).groupby("tier")["y"].agg(["size", "sum"])
    rows = []
    for tier in tiers:
        n, k = (int(g.loc[tier["name"], "size"]), int(g.loc[tier["name"], "sum"])) if tier["name"] in g.index else (0, 0)
        rows.append({"tier": tier["name"], "rows": n, "churned": k, "rate": k / n if n else None, "ci": wilson(k, n)})
    return rows


def job_tiers(a):
    p, metrics, w0, tiers = load_profile(a.profile)
    df = load(a.data, metrics)
    X = sub_scores(df, metrics)
    s = 100 * scores(X, w0)
    keep = decisions(df)
    s, y = s[keep], df["churned"].to_numpy()[keep]
    rows = tier_table(s, y, tiers)
    bands = []
    for name, mask in [("<= 30", s <= 30), ("30-50", (s > 30) & (s < 50)), (">= 50", s >= 50)]:
        n, k = int(mask.sum()), int(y[mask].sum())
        bands.append({"band": name, "rows": n, "churned": k, "ci": wilson(k, n)})
    with open(os.path.join(a.out, "tiers.json"), "w") as f:
        json.dump({"tiers": rows, "bands": bands}, f, indent=2)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar([r["tier"] for r in rows], [100 * (r["rate"] or 0) for r in rows])
    ax.set_ylabel("churn %")
    fig.savefig(os.path.join(a.out, "tiers.svg"))


# ---- calibrate -----------------------------------------------------------------------------
def objective(theta, X, P, Xz, y, n, prior, lam):
    a, beta = theta[0], theta[1:]
    b = beta + FLOOR
    D = P @ b
    score = (Xz @ b) / D
    B = beta.sum()
    eta = a - B * score
    nll = np.mean(np.logaddexp(0, eta) - y * eta)
    r = (expit(eta) - y) / n
    c = r * B / D
    g = np.empty_like(theta)
    g[0] = r.sum()
    g[1:] = -(r @ score) - (Xz.T @ c) + P.T @ (c * score)
    diff = beta - prior
    return nll + lam * diff @ diff, g + np.r_[0.0, 2 * lam * diff]


def fit_constrained(X, y, prior, lam, start):
    P = (~np.isnan(X)).astype(float)
    Xz = np.where(P > 0, X, 0.0)
    k = X.shape[1]
    r = minimize(objective, start, args=(X, P, Xz, y.astype(float), len(y), prior, lam), jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0, None)] * k)
    return r.x


def fit_two(s, y):
    m = LogisticRegression(C=np.inf).fit(s.reshape(-1, 1), y)
    return m.intercept_[0], m.coef_[0, 0]


def predict(X, theta):
    return expit(theta[0] - theta[1:].sum() * scores(X, theta[1:]))


def impute(X, s0):
    return np.where(np.isnan(X), s0[:, None], X)


def lambdas():
    return [math.inf] + [10 ** (-0.5 * i) for i in range(13)] + [0.0]


def fit_rows(a):
    """The rows a calibration fits (some metric present), their sub-scores, outcomes and
    accounts, the prior's scores and its own intercept and slope."""
    p, metrics, w0, tiers = load_profile(a.profile)
    df = load(a.data, metrics)
    X = sub_scores(df, metrics)
    ok = ~np.all(np.isnan(X), axis=1)
    df, X = df[ok].reset_index(drop=True), X[ok]
    y = df["churned"].to_numpy().astype(int)
    groups = df["account_id"].to_numpy()
    s0 = scores(X, w0)
    a0, slope0 = fit_two(s0, y)
    return metrics, w0, df, X, y, groups, s0, a0, slope0


def job_calibrate(a):
    metrics, w0, df, X, y, groups, s0, a0, slope0 = fit_rows(a)
    b0 = max(-slope0, 0.1)
    beta0 = b0 * w0 / 100
    Ximp = impute(X, s0)
    grid = lambdas()
    order = sorted(range(len(grid)), key=lambda i: -grid[i])
    oof = np.zeros((len(grid), len(y)))
    oof_unc = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=a.folds).split(X, y, groups):
        pa, pb = fit_two(s0[train], y[train])
        start = np.r_[pa, max(-pb, 0) * w0 / 100]
        for li in order:
            lam = grid[li]
            if math.isinf(lam):
                theta = start
            else:
                theta = fit_constrained(X[train], y[train], beta0, lam, start)
                start = theta
            oof[li, test] = predict(X[test], theta)
        ref = LogisticRegression(C=np.inf, max_iter=1000).fit(Ximp[train], y[train])
        oof_unc[test] = ref.predict_proba(Ximp[test])[:, 1]
    path = [{"lambda": grid[i], "cv_log_loss": log_loss(y, oof[i], labels=[0, 1]), "cv_auc": roc_auc_score(y, oof[i])} for i in range(len(grid))]
    best = min(order, key=lambda i: path[i]["cv_log_loss"])
    lam = grid[best]
    start = np.r_[a0, beta0]
    theta = start if math.isinf(lam) else fit_constrained(X, y, beta0, lam, start)
    ref = LogisticRegression(C=np.inf, max_iter=1000).fit(Ximp, y)
    # Out-of-time holdout: the last 25 % of snapshot dates.
    dates = np.sort(df["snapshot_date"].unique())
    cut = dates[len(dates) - max(1, math.ceil(0.25 * len(dates)))]
    dev = (df["snapshot_date"] < cut).to_numpy()
    hold = {}
    if dev.any() and (~dev).any():
        th = start if math.isinf(lam) else fit_constrained(X[dev], y[dev], beta0, lam, start)
        ph = predict(X[~dev], th)
        hold = {"auc": roc_auc_score(y[~dev], ph), "log_loss": log_loss(y[~dev], ph, labels=[0, 1])}
    w = 100 * theta[1:] / max(theta[1:].sum(), 1e-300)
    w_int = np.floor(w).astype(int)
    w_int[np.argsort(-(w - w_int), kind="stable")[: 100 - w_int.sum()]] += 1
    out = {"lambda": lam, "path": path, "weights": w.tolist(), "weights_int": w_int.tolist(), "intercept": theta[0], "slope": -theta[1:].sum(), "holdout": hold, "unconstrained_cv_auc": roc_auc_score(y, oof_unc), "reference": ref.coef_[0].tolist()}
    with open(os.path.join(a.out, "calibration.json"), "w") as f:
        json.dump(out, f, indent=2)
    fig, ax = plt.subplots(figsize=(7, 5))
    names = [m["name"] for m in metrics]
    ax.barh(names, w0, alpha=0.4, label="prior")
    ax.barh(names, w, alpha=0.7, label="calibrated")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "weights.svg"))


# ---- validate ------------------------------------------------------------------------------
def lean_objective(theta, Z, y, prior, lam):
    a, beta = theta[0], theta[1:]
    eta = a - Z @ beta
    n = len(y)
    nll = np.mean(np.logaddexp(0, eta) - y * eta)
    r = (expit(eta) - y) / n
    diff = beta - prior
    g = np.r_[r.sum(), -(Z.T @ r) + 2 * lam * diff]
    return nll + lam * diff @ diff, g


def lean_fit(Z, y, prior, lam, start):
    k = Z.shape[1]
    r = minimize(lean_objective, start, args=(Z, y.astype(float), prior, lam), jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0, None)] * k)
    return r.x


def job_calibrate1(a):
    metrics, w0, df, X, y, groups, s0, a0, slope0 = fit_rows(a)
    beta0 = max(-slope0, 0.1) * w0 / 100
    Z = impute(X, s0)
    lam = 1e-3
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=a.folds).split(Z, y, groups):
        theta = lean_fit(Z[train], y[train], beta0, lam, np.r_[a0, beta0])
        oof[test] = expit(theta[0] - Z[test] @ theta[1:])
    theta = lean_fit(Z, y, beta0, lam, np.r_[a0, beta0])
    w = 100 * theta[1:] / max(theta[1:].sum(), 1e-300)
    out = {"lambda": lam, "cv_auc": roc_auc_score(y, oof), "cv_log_loss": log_loss(y, oof, labels=[0, 1]), "weights": w.tolist(), "intercept": theta[0]}
    with open(os.path.join(a.out, "calibration.json"), "w") as f:
        json.dump(out, f, indent=2)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.barh([m["name"] for m in metrics], w)
    ax.set_xlabel("weight")
    fig.savefig(os.path.join(a.out, "weights.svg"))


def delong(r1, r2, y):
    """Fast DeLong (Sun & Xu 2014) for two correlated AUCs."""
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    aucs, v10, v01 = [], [], []
    for r in (r1, r2):
        rx = pd.Series(r[pos]).rank().to_numpy()
        ry = pd.Series(r[neg]).rank().to_numpy()
        rz = pd.Series(np.r_[r[pos], r[neg]]).rank().to_numpy()
        aucs.append((rz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((rz[:m] - rx) / n)
        v01.append(1 - (rz[m:] - ry) / m)
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    z = (aucs[0] - aucs[1]) / math.sqrt(var) if var > 0 else 0.0
    return aucs, z, 2 * norm.sf(abs(z))


def job_validate(a):
    _, mc, wc, tc = load_profile(a.profile)
    _, mi, wi, ti = load_profile(a.incumbent)
    df = load(a.data, mc + mi)
    y = df["churned"].to_numpy().astype(int)
    sc = scores(sub_scores(df, mc), wc)
    si = scores(sub_scores(df, mi), wi)
    ok = ~(np.isnan(sc) | np.isnan(si))
    dates = np.sort(df["snapshot_date"].unique())
    cut = dates[len(dates) - max(1, math.ceil(0.25 * len(dates)))]
    dev = ok & (df["snapshot_date"] < cut).to_numpy()
    val = ok & ~dev
    res = {}
    probs = {}
    for name, s, tiers in (("candidate", sc, tc), ("incumbent", si, ti)):
        a0, b = fit_two(s[dev], y[dev])
        pv = expit(a0 + b * s[val])
        probs[name] = pv
        res[name] = {"auc": roc_auc_score(y[val], -s[val]), "log_loss": log_loss(y[val], pv, labels=[0, 1]), "brier": float(np.mean((pv - y[val]) ** 2)), "tiers": tier_table(100 * s[val], y[val], tiers)}
    aucs, z, pval = delong(-sc[val], -si[val], y[val])
    res["delong"] = {"auc": aucs, "z": z, "p": pval}
    # Paired bootstrap over validation accounts of the log-loss and Brier differences.
    yv = y[val]
    eps = 1e-15
    ll = lambda p: -(yv * np.log(np.clip(p, eps, 1 - eps)) + (1 - yv) * np.log(np.clip(1 - p, eps, 1 - eps)))  # noqa: E731
    codes, acc = np.unique(df["account_id"].to_numpy()[val], return_inverse=True)
    na = len(codes)
    sums = np.column_stack([np.bincount(acc, v, na) for v in (ll(probs["candidate"]), ll(probs["incumbent"]), (probs["candidate"] - yv) ** 2, (probs["incumbent"] - yv) ** 2, np.ones_like(yv, float))])
    rng = np.random.default_rng(42)
    reps = []
    for _ in range(a.bootstrap):
        t = sums[rng.integers(0, na, na)].sum(axis=0)
        reps.append(((t[0] - t[1]) / t[4], (t[2] - t[3]) / t[4]))
    reps = np.array(reps)
    res["bootstrap"] = {"log_loss_diff_ci": np.quantile(reps[:, 0], [0.025, 0.975]).tolist(), "brier_diff_ci": np.quantile(reps[:, 1], [0.025, 0.975]).tolist()}
    with open(os.path.join(a.out, "validation.json"), "w") as f:
        json.dump(res, f, indent=2, default=float)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("job", choices=["score", "tiers", "calibrate", "calibrate1", "validate"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--incumbent")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=200)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    {"score": job_score, "tiers": job_tiers, "calibrate": job_calibrate, "calibrate1": job_calibrate1, "validate": job_validate}[a.job](a)


if __name__ == "__main__":
    main()
