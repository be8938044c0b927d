//! Projected Newton for smooth objectives with non-negativity bounds, as an argmin solver.
//!
//! Bertsekas, "Projected Newton methods for optimization problems with simple constraints",
//! SIAM J. Control Optim. 20(2), 1982. Parameters `θ[j]` for `j ≥ bounded_from` must stay
//! ≥ 0; the others are free. Each iteration:
//!
//! 1. The ε-active set: bounded parameters within `ε = min(ε̄, ‖θ − P(θ − ∇f)‖∞)` of their
//!    bound whose gradient pushes them onto it.
//! 2. The step: a Newton step `−H_FF⁻¹ g_F` on the other (free) parameters, with the
//!    curvature matrix the problem supplies (for a logistic likelihood, the Fisher
//!    information: exact where the model is linear, positive semi-definite everywhere);
//!    a diagonally scaled gradient step on the active ones. A matrix that is not positive
//!    definite is damped (Levenberg) until it is.
//! 3. An Armijo search along the projection arc `θ(t) = P(θ + t d)`, `t = 1, ½, ¼, …`:
//!    `f(θ(t)) ≤ f(θ) + σ [t Σ_free g_j d_j + Σ_active g_j (θ_j(t) − θ_j)]`.
//!
//! It stops when the projected gradient's largest component is below the tolerance; a point
//! where that holds is a Karush–Kuhn–Tucker point of the bounded problem. Near the optimum
//! the free set is fixed and the iteration is Newton's method, so convergence is quadratic
//! where the curvature matrix is the Hessian: a handful of passes over the data instead of
//! the dozens a first-order method needs. Every evaluation returns cost, gradient and
//! curvature together (one pass over the data).

use argmin::core::{Error, IterState, Problem, Solver, TerminationReason, TerminationStatus, KV};

use crate::stats::linalg::solve_spd;

/// Cost, gradient and curvature (row-major `p × p`, symmetric) at one point.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Objective value.
    pub cost: f64,
    /// Gradient.
    pub grad: Vec<f64>,
    /// Curvature matrix: the Hessian or a positive semi-definite stand-in for it.
    pub curvature: Vec<f64>,
}

/// A problem the projected Newton solver can minimise.
pub trait Curvature {
    /// Cost and gradient at `theta`, and the curvature when `curvature` is true (an empty
    /// vector otherwise), in one pass.
    fn evaluate(&self, theta: &[f64], curvature: bool) -> Evaluation;
}

/// The solver's state type in argmin.
pub type NewtonState = IterState<Vec<f64>, Vec<f64>, (), Vec<f64>, (), f64>;

/// Upper bound ε̄ of the ε-active set.
const EPS_BAR: f64 = 1e-3;
/// Armijo constant σ.
const ARMIJO: f64 = 1e-4;
/// Step halvings before giving up on a direction.
const MAX_HALVINGS: usize = 60;

/// Projected Newton with an Armijo search along the projection arc.
#[derive(Debug, Clone)]
pub struct ProjectedNewton {
    tol: f64,
    bounded_from: usize,
    current: Option<Evaluation>,
    curvature: Option<Vec<f64>>,
    refresh: bool,
    projected_gradient: f64,
    stop: Option<TerminationReason>,
}

impl ProjectedNewton {
    /// Stop when `max_j |θ_j − P(θ_j − ∂f/∂θ_j)|` falls below `tol`; `θ[bounded_from..]`
    /// are kept ≥ 0.
    pub fn new(tol: f64, bounded_from: usize) -> ProjectedNewton {
        ProjectedNewton {
            tol,
            bounded_from,
            current: None,
            curvature: None,
            refresh: false,
            projected_gradient: f64::INFINITY,
            stop: None,
        }
    }

    /// Start from a known curvature matrix (e.g. a related fit's at a nearby point) instead
    /// of computing one at the starting point. The solver keeps a curvature matrix while the
    /// projected gradient falls at least tenfold per iteration, and recomputes it at the
    /// next trial point otherwise: close to the optimum, steps cost a gradient pass only.
    pub fn with_curvature(mut self, curvature: Vec<f64>) -> ProjectedNewton {
        self.curvature = Some(curvature);
        self
    }

    /// The curvature matrix last used.
    pub fn curvature(&self) -> Option<&[f64]> {
        self.curvature.as_deref()
    }

    fn project(&self, theta: &mut [f64]) {
        for v in theta[self.bounded_from..].iter_mut() {
            if *v < 0.0 {
                *v = 0.0;
            }
        }
    }

    /// `‖θ − P(θ − g)‖∞`: zero exactly at a KKT point of the bounded problem.
    fn projected_gradient(&self, theta: &[f64], grad: &[f64]) -> f64 {
        theta
            .iter()
            .zip(grad)
            .enumerate()
            .map(|(j, (&t, &g))| {
                if j >= self.bounded_from && g > 0.0 {
                    g.min(t)
                } else {
                    g.abs()
                }
            })
            .fold(0.0, f64::max)
    }

    /// The search direction at `theta` (see the module documentation) and the ε-active set.
    fn direction(
        &self,
        theta: &[f64],
        ev: &Evaluation,
        h: &[f64],
    ) -> Option<(Vec<f64>, Vec<bool>)> {
        let p = theta.len();
        let eps = EPS_BAR.min(self.projected_gradient);
        let active: Vec<bool> = (0..p)
            .map(|j| j >= self.bounded_from && theta[j] <= eps && ev.grad[j] > 0.0)
            .collect();
        let free: Vec<usize> = (0..p).filter(|&j| !active[j]).collect();
        let scale = (0..p).map(|j| h[j * p + j].abs()).fold(0.0, f64::max);
        let floor = (1e-12 * scale).max(f64::MIN_POSITIVE);
        let mut d = vec![0.0; p];
        for j in (0..p).filter(|&j| active[j]) {
            d[j] = -ev.grad[j] / h[j * p + j].max(floor);
        }
        if !free.is_empty() {
            let f = free.len();
            let g_f: Vec<f64> = free.iter().map(|&j| -ev.grad[j]).collect();
            let mut damping = 0.0;
            let step = loop {
                let mut h_ff = vec![0.0; f * f];
                for (a, &ja) in free.iter().enumerate() {
                    for (b, &jb) in free.iter().enumerate() {
                        h_ff[a * f + b] = h[ja * p + jb];
                    }
                    h_ff[a * f + a] += damping;
                }
                if let Some(s) = solve_spd(&h_ff, &g_f, f) {
                    break s;
                }
                damping = if damping == 0.0 {
                    floor.max(1e-10 * scale)
                } else {
                    damping * 100.0
                };
                if !damping.is_finite() || damping > 1e10 * scale.max(1.0) {
                    return None;
                }
            };
            for (&j, s) in free.iter().zip(step) {
                d[j] = s;
            }
        }
        Some((d, active))
    }
}

impl<O: Curvature> Solver<O, NewtonState> for ProjectedNewton {
    fn name(&self) -> &str {
        "projected Newton"
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        mut state: NewtonState,
    ) -> Result<(NewtonState, Option<KV>), Error> {
        let mut theta = state
            .take_param()
            .ok_or_else(|| Error::msg("projected Newton needs a starting point"))?;
        self.project(&mut theta);
        let need = self.curvature.is_none();
        let mut ev = problem.problem("evaluate", |o| Ok(o.evaluate(&theta, need)))?;
        if need {
            self.curvature = Some(std::mem::take(&mut ev.curvature));
        }
        if !ev.cost.is_finite() {
            return Err(Error::msg(
                "the objective is not finite at the starting point",
            ));
        }
        self.projected_gradient = self.projected_gradient(&theta, &ev.grad);
        let cost = ev.cost;
        self.current = Some(ev);
        Ok((state.param(theta).cost(cost), None))
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        mut state: NewtonState,
    ) -> Result<(NewtonState, Option<KV>), Error> {
        let theta = state
            .take_param()
            .ok_or_else(|| Error::msg("projected Newton lost its iterate"))?;
        let cur = self
            .current
            .take()
            .ok_or_else(|| Error::msg("projected Newton was not initialised"))?;
        let mut retried = false;
        loop {
            let h = self.curvature.as_deref().unwrap_or(&cur.curvature);
            let Some((d, active)) = self.direction(&theta, &cur, h) else {
                self.stop = Some(TerminationReason::SolverExit(
                    "the curvature matrix could not be made positive definite".into(),
                ));
                break;
            };
            let mut t = 1.0;
            for _ in 0..MAX_HALVINGS {
                let mut trial: Vec<f64> = theta.iter().zip(&d).map(|(a, b)| a + t * b).collect();
                self.project(&mut trial);
                // Bertsekas' sufficient decrease: the unprojected Newton step on the free
                // parameters (a descent direction even where the projection clips it), the
                // projected move on the active ones.
                let predicted: f64 = (0..theta.len())
                    .map(|j| {
                        if active[j] {
                            cur.grad[j] * (trial[j] - theta[j])
                        } else {
                            t * cur.grad[j] * d[j]
                        }
                    })
                    .sum();
                if trial == theta || predicted >= 0.0 {
                    break;
                }
                let refresh = self.refresh || t < 1.0;
                let mut ev = problem.problem("evaluate", |o| Ok(o.evaluate(&trial, refresh)))?;
                if ev.cost.is_finite() && ev.cost <= cur.cost + ARMIJO * predicted {
                    let pg = self.projected_gradient(&trial, &ev.grad);
                    // Slow progress or a shortened step: fresh curvature at the next point.
                    self.refresh = pg > 0.1 * self.projected_gradient || t < 1.0;
                    self.projected_gradient = pg;
                    if refresh {
                        self.curvature = Some(std::mem::take(&mut ev.curvature));
                    }
                    let cost = ev.cost;
                    self.current = Some(ev);
                    return Ok((state.param(trial).cost(cost), None));
                }
                t *= 0.5;
            }
            if retried {
                self.stop = Some(TerminationReason::SolverExit(format!(
                    "no decrease along the Newton direction (projected gradient {:.1e})",
                    self.projected_gradient
                )));
                break;
            }
            // The direction failed: recompute the curvature here and try once more.
            let mut ev = problem.problem("evaluate", |o| Ok(o.evaluate(&theta, true)))?;
            self.curvature = Some(std::mem::take(&mut ev.curvature));
            retried = true;
        }
        let cost = cur.cost;
        self.current = Some(cur);
        Ok((state.param(theta).cost(cost), None))
    }

    fn terminate(&mut self, _state: &NewtonState) -> TerminationStatus {
        if self.projected_gradient <= self.tol {
            return TerminationStatus::Terminated(TerminationReason::SolverConverged);
        }
        match &self.stop {
            Some(r) => TerminationStatus::Terminated(r.clone()),
            None => TerminationStatus::NotTerminated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use argmin::core::{Executor, State};

    /// `½ (θ − c)ᵀ A (θ − c)` with a known bounded minimiser.
    struct Quadratic {
        a: [f64; 9],
        c: [f64; 3],
    }

    impl Curvature for Quadratic {
        fn evaluate(&self, theta: &[f64], curvature: bool) -> Evaluation {
            let r: Vec<f64> = theta.iter().zip(&self.c).map(|(t, c)| t - c).collect();
            let grad: Vec<f64> = (0..3)
                .map(|i| (0..3).map(|j| self.a[i * 3 + j] * r[j]).sum())
                .collect();
            let cost = 0.5 * r.iter().zip(&grad).map(|(a, b)| a * b).sum::<f64>();
            Evaluation {
                cost,
                grad,
                curvature: if curvature {
                    self.a.to_vec()
                } else {
                    Vec::new()
                },
            }
        }
    }

    #[test]
    fn finds_the_bounded_minimiser_of_a_quadratic() {
        // A = [[2, 1, 0], [1, 2, 0], [0, 0, 1]], c = (−1, 1, −2); θ₀ free, θ₁ θ₂ ≥ 0.
        // θ₂ = 0 (its unbounded optimum is −2). With θ₂ fixed, (θ₀, θ₁) = c₀₁ is feasible
        // and optimal: (−1, 1, 0).
        let q = Quadratic {
            a: [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0],
            c: [-1.0, 1.0, -2.0],
        };
        let res = Executor::new(q, ProjectedNewton::new(1e-12, 1))
            .configure(|s| s.param(vec![5.0, 5.0, 5.0]).max_iters(50))
            .run()
            .unwrap();
        let st = res.state();
        assert_eq!(
            st.get_termination_status(),
            &TerminationStatus::Terminated(TerminationReason::SolverConverged)
        );
        let best = st.get_best_param().unwrap();
        assert_relative_eq!(best[0], -1.0, epsilon = 1e-12);
        assert_relative_eq!(best[1], 1.0, epsilon = 1e-12);
        assert_eq!(best[2], 0.0);
        assert!(st.get_iter() <= 5, "{} iterations", st.get_iter());
    }

    #[test]
    fn a_bound_that_binds_with_coupling() {
        // c = (0, −1, 1): θ₁ hits 0, and θ₀ moves because it is coupled to θ₁:
        // minimise over θ₀ with θ₁ = 0: 2(θ₀ − 0) + 1(0 + 1) = 0 → θ₀ = −½.
        let q = Quadratic {
            a: [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 1.0],
            c: [0.0, -1.0, 1.0],
        };
        let res = Executor::new(q, ProjectedNewton::new(1e-12, 1))
            .configure(|s| s.param(vec![0.0, 1.0, 0.0]).max_iters(50))
            .run()
            .unwrap();
        let best = res.state().get_best_param().unwrap().clone();
        assert_relative_eq!(best[0], -0.5, epsilon = 1e-12);
        assert_eq!(best[1], 0.0);
        assert_relative_eq!(best[2], 1.0, epsilon = 1e-12);
    }
}
