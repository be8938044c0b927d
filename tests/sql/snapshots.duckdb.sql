-- churncal VERSION: snapshots job for profile 'three-dimensions-calibrated', duckdb dialect.
-- One row per account and snapshot date: the metrics as known on the date, and
-- churned over (90 days] after it (NULL where that runs past 2025-12-31).
WITH
dates AS (
  SELECT CAST(v AS DATE) AS snapshot_date FROM (VALUES (DATE '2023-03-31'), (DATE '2023-06-30'), (DATE '2023-09-30'), (DATE '2023-12-31'), (DATE '2024-03-31'), (DATE '2024-06-30'), (DATE '2024-09-30'), (DATE '2024-12-31'), (DATE '2025-03-31'), (DATE '2025-06-30'), (DATE '2025-09-30'), (DATE '2025-12-31')) AS t(v)
),
base AS (
  SELECT a.account_id, d.snapshot_date, a.customer_since, a.industry, a.plan, a.region,
         c.churn_date
  FROM "accounts" a
  CROSS JOIN dates d
  LEFT JOIN "churns" c ON c.account_id = a.account_id
  WHERE a.customer_since <= d.snapshot_date
    AND (c.churn_date IS NULL OR c.churn_date > d.snapshot_date)
),
usage AS (
  SELECT b.account_id, b.snapshot_date,
         COUNT(DISTINCT e.user_id) AS active_users_30d,
         CAST(COUNT(e.user_id) AS DOUBLE) / NULLIF(COUNT(DISTINCT e.user_id), 0) AS logins_per_user_30d,
         COUNT(DISTINCT e.feature) AS features_used_30d
  FROM base b
  LEFT JOIN "events" e
    ON e.account_id = b.account_id
   AND CAST(e.event_time AS DATE) > (b.snapshot_date + (-30))
   AND CAST(e.event_time AS DATE) <= b.snapshot_date
  GROUP BY b.account_id, b.snapshot_date
),
billing AS (
  SELECT b.account_id, b.snapshot_date,
         COALESCE(MAX(CASE WHEN i.due_date <= b.snapshot_date
                            AND (i.paid_date IS NULL OR i.paid_date > b.snapshot_date)
                           THEN date_diff('day', i.due_date, b.snapshot_date) END), 0) AS days_past_due,
         MAX(CASE WHEN i.due_date <= b.snapshot_date THEN i.arr END) AS arr
  FROM base b LEFT JOIN "invoices" i ON i.account_id = b.account_id
  GROUP BY b.account_id, b.snapshot_date
),
answers AS (
  SELECT b.account_id, b.snapshot_date, s.nps,
         ROW_NUMBER() OVER (PARTITION BY b.account_id, b.snapshot_date ORDER BY s.answered_at DESC) AS k
  FROM base b JOIN "surveys" s
    ON s.account_id = b.account_id AND s.answered_at <= b.snapshot_date
),
sentiment AS (
  SELECT account_id, snapshot_date, nps FROM answers WHERE k = 1
)
SELECT b.account_id,
       b.snapshot_date,
       CASE WHEN b.churn_date <= (b.snapshot_date + (90)) THEN 1
            WHEN (b.snapshot_date + (90)) <= DATE '2025-12-31' THEN 0 END AS churned,
       b.churn_date, b.customer_since, bl.arr, b.industry, b.plan, b.region,
       u.active_users_30d, u.logins_per_user_30d, u.features_used_30d,
       bl.days_past_due, s.nps
FROM base b
JOIN usage u ON u.account_id = b.account_id AND u.snapshot_date = b.snapshot_date
JOIN billing bl ON bl.account_id = b.account_id AND bl.snapshot_date = b.snapshot_date
LEFT JOIN sentiment s ON s.account_id = b.account_id AND s.snapshot_date = b.snapshot_date
ORDER BY b.account_id, b.snapshot_date;
