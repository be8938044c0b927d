-- churncal VERSION: tiers job for profile 'three-dimensions-calibrated', spark dialect.
WITH
cc_in AS (
  SELECT
    `account_id` AS `account_id`,
    `snapshot_date` AS `snapshot_date`,
    `churned` AS `cc_outcome`,
    CAST(`nps` AS DOUBLE) AS cc_v0,
    NULLIF(TRIM(CAST(`csm_assessment` AS STRING)), '') AS cc_v1,
    LOWER(NULLIF(TRIM(CAST(`exec_sponsor` AS STRING)), '')) AS cc_v2,
    CAST(`active_user_ratio` AS DOUBLE) AS cc_v3,
    CAST(`logins_per_user_30d` AS DOUBLE) AS cc_v4,
    CAST(`feature_adoption_pct` AS DOUBLE) AS cc_v5,
    CAST(`goals_met_pct` AS DOUBLE) AS cc_v6,
    CAST(`days_past_due` AS DOUBLE) AS cc_v7,
    CAST(`revenue_growth_pct` AS DOUBLE) AS cc_v8,
    CAST(`support_tickets_90d` AS DOUBLE) AS cc_v9
  FROM `analytics`.`snapshots`
),
cc_sub AS (
  SELECT cc_in.*,
    -- nps (nps, linear, higher is better, missing redistribute)
    CAST(CASE WHEN cc_v0 IS NULL THEN NULL ELSE 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v0, (-100)), 100) - (-100)) / 200, 0), 1) END AS DOUBLE) AS cc_s0,
    -- csm assessment (csm_assessment, categories, higher is better, missing neutral)
    CAST(CASE WHEN cc_v1 IS NULL THEN 50 ELSE CASE cc_v1 WHEN 'committed' THEN 100 WHEN 'neutral' THEN 50 WHEN 'wavering' THEN 0 END END AS DOUBLE) AS cc_s1,
    -- executive sponsor (exec_sponsor, boolean, higher is better, missing worst)
    CAST(CASE WHEN cc_v2 IS NULL THEN 0 ELSE CASE WHEN cc_v2 IN ('true', '1', 'yes', 'y', '1.0') THEN 100 WHEN cc_v2 IN ('false', '0', 'no', 'n', '0.0') THEN 0 END END AS DOUBLE) AS cc_s2,
    -- active users (active_user_ratio, linear, higher is better, missing redistribute)
    CAST(CASE WHEN cc_v3 IS NULL THEN NULL ELSE 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v3, 0), 1) - 0) / 1, 0), 1) END AS DOUBLE) AS cc_s3,
    -- logins per user (logins_per_user_30d, log, higher is better, missing redistribute)
    CAST(CASE WHEN cc_v4 IS NULL THEN NULL ELSE LEAST(GREATEST(100 * (LOG1P(LEAST(GREATEST(cc_v4, 0), 60)) - 0) / CAST('4.110873864173311' AS DOUBLE), 0), 100) END AS DOUBLE) AS cc_s4,
    -- feature adoption (feature_adoption_pct, linear, higher is better, missing redistribute)
    CAST(CASE WHEN cc_v5 IS NULL THEN NULL ELSE 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v5, 0), 100) - 0) / 100, 0), 1) END AS DOUBLE) AS cc_s5,
    -- goals met (goals_met_pct, linear, higher is better, missing neutral)
    CAST(CASE WHEN cc_v6 IS NULL THEN 50 ELSE 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v6, 0), 100) - 0) / 100, 0), 1) END AS DOUBLE) AS cc_s6,
    -- days past due (days_past_due, linear, lower is better, missing neutral)
    CAST(CASE WHEN cc_v7 IS NULL THEN 50 ELSE 100 - 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v7, 0), 60) - 0) / 60, 0), 1) END AS DOUBLE) AS cc_s7,
    -- revenue growth (revenue_growth_pct, linear, higher is better, missing neutral)
    CAST(CASE WHEN cc_v8 IS NULL THEN 50 ELSE 100 * LEAST(GREATEST((LEAST(GREATEST(cc_v8, (-30)), 50) - (-30)) / 80, 0), 1) END AS DOUBLE) AS cc_s8,
    -- support tickets (support_tickets_90d, log, lower is better, missing neutral)
    CAST(CASE WHEN cc_v9 IS NULL THEN 50 ELSE 100 - LEAST(GREATEST(100 * (LOG1P(LEAST(GREATEST(cc_v9, 0), 30)) - 0) / CAST('3.4339872044851463' AS DOUBLE), 0), 100) END AS DOUBLE) AS cc_s9,
    (((((((((CASE WHEN cc_v0 IS NULL THEN 0 ELSE 1 END + CASE WHEN cc_v1 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v2 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v3 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v4 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v5 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v6 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v7 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v8 IS NULL THEN 0 ELSE 1 END) + CASE WHEN cc_v9 IS NULL THEN 0 ELSE 1 END) AS cc_present,
    CASE WHEN cc_v1 IS NOT NULL AND cc_v1 NOT IN ('committed', 'neutral', 'wavering') THEN CONCAT('column ''csm_assessment'': category ''', cc_v1, ''' is not in the map of metric ''CSM assessment''') WHEN cc_v2 IS NOT NULL AND cc_v2 NOT IN ('true', '1', 'yes', 'y', '1.0', 'false', '0', 'no', 'n', '0.0') THEN CONCAT('column ''exec_sponsor'': category ''', cc_v2, ''' is not in the map of metric ''Executive sponsor''') END AS refused
  FROM cc_in
),
cc_sum AS (
  SELECT cc_sub.*,
    (((((((((8 * COALESCE(cc_s0, 0) + 8 * COALESCE(cc_s1, 0)) + 8 * COALESCE(cc_s2, 0)) + 9 * COALESCE(cc_s3, 0)) + 8 * COALESCE(cc_s4, 0)) + 9 * COALESCE(cc_s5, 0)) + 20 * COALESCE(cc_s6, 0)) + 10 * COALESCE(cc_s7, 0)) + 10 * COALESCE(cc_s8, 0)) + 10 * COALESCE(cc_s9, 0)) AS cc_num,
    CAST((((((((((CASE WHEN cc_s0 IS NULL THEN 0 ELSE 8 END + CASE WHEN cc_s1 IS NULL THEN 0 ELSE 8 END) + CASE WHEN cc_s2 IS NULL THEN 0 ELSE 8 END) + CASE WHEN cc_s3 IS NULL THEN 0 ELSE 9 END) + CASE WHEN cc_s4 IS NULL THEN 0 ELSE 8 END) + CASE WHEN cc_s5 IS NULL THEN 0 ELSE 9 END) + CASE WHEN cc_s6 IS NULL THEN 0 ELSE 20 END) + CASE WHEN cc_s7 IS NULL THEN 0 ELSE 10 END) + CASE WHEN cc_s8 IS NULL THEN 0 ELSE 10 END) + CASE WHEN cc_s9 IS NULL THEN 0 ELSE 10 END) AS DOUBLE) AS cc_den,
    ((8 * COALESCE(cc_s0, 0) + 8 * COALESCE(cc_s1, 0)) + 8 * COALESCE(cc_s2, 0)) AS cc_gnum0,
    CAST(((CASE WHEN cc_s0 IS NULL THEN 0 ELSE 8 END + CASE WHEN cc_s1 IS NULL THEN 0 ELSE 8 END) + CASE WHEN cc_s2 IS NULL THEN 0 ELSE 8 END) AS DOUBLE) AS cc_gden0,
    ((9 * COALESCE(cc_s3, 0) + 8 * COALESCE(cc_s4, 0)) + 9 * COALESCE(cc_s5, 0)) AS cc_gnum1,
    CAST(((CASE WHEN cc_s3 IS NULL THEN 0 ELSE 9 END + CASE WHEN cc_s4 IS NULL THEN 0 ELSE 8 END) + CASE WHEN cc_s5 IS NULL THEN 0 ELSE 9 END) AS DOUBLE) AS cc_gden1,
    (((20 * COALESCE(cc_s6, 0) + 10 * COALESCE(cc_s7, 0)) + 10 * COALESCE(cc_s8, 0)) + 10 * COALESCE(cc_s9, 0)) AS cc_gnum2,
    CAST((((CASE WHEN cc_s6 IS NULL THEN 0 ELSE 20 END + CASE WHEN cc_s7 IS NULL THEN 0 ELSE 10 END) + CASE WHEN cc_s8 IS NULL THEN 0 ELSE 10 END) + CASE WHEN cc_s9 IS NULL THEN 0 ELSE 10 END) AS DOUBLE) AS cc_gden2
  FROM cc_sub
),
cc_scored AS (
  SELECT cc_sum.*,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 THEN LEAST(GREATEST(cc_num / cc_den, 0), 100) END AS score,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_gden0 > 0 THEN LEAST(GREATEST(cc_gnum0 / cc_gden0, 0), 100) END AS cc_g0,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_gden1 > 0 THEN LEAST(GREATEST(cc_gnum1 / cc_gden1, 0), 100) END AS cc_g1,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_gden2 > 0 THEN LEAST(GREATEST(cc_gnum2 / cc_gden2, 0), 100) END AS cc_g2,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s0 IS NOT NULL AND 8 / cc_den * (100 - cc_s0) > CAST('1e-9' AS DOUBLE) THEN 8 / cc_den * (100 - cc_s0) ELSE 0 END AS cc_l0,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s1 IS NOT NULL AND 8 / cc_den * (100 - cc_s1) > CAST('1e-9' AS DOUBLE) THEN 8 / cc_den * (100 - cc_s1) ELSE 0 END AS cc_l1,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s2 IS NOT NULL AND 8 / cc_den * (100 - cc_s2) > CAST('1e-9' AS DOUBLE) THEN 8 / cc_den * (100 - cc_s2) ELSE 0 END AS cc_l2,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s3 IS NOT NULL AND 9 / cc_den * (100 - cc_s3) > CAST('1e-9' AS DOUBLE) THEN 9 / cc_den * (100 - cc_s3) ELSE 0 END AS cc_l3,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s4 IS NOT NULL AND 8 / cc_den * (100 - cc_s4) > CAST('1e-9' AS DOUBLE) THEN 8 / cc_den * (100 - cc_s4) ELSE 0 END AS cc_l4,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s5 IS NOT NULL AND 9 / cc_den * (100 - cc_s5) > CAST('1e-9' AS DOUBLE) THEN 9 / cc_den * (100 - cc_s5) ELSE 0 END AS cc_l5,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s6 IS NOT NULL AND 20 / cc_den * (100 - cc_s6) > CAST('1e-9' AS DOUBLE) THEN 20 / cc_den * (100 - cc_s6) ELSE 0 END AS cc_l6,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s7 IS NOT NULL AND 10 / cc_den * (100 - cc_s7) > CAST('1e-9' AS DOUBLE) THEN 10 / cc_den * (100 - cc_s7) ELSE 0 END AS cc_l7,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s8 IS NOT NULL AND 10 / cc_den * (100 - cc_s8) > CAST('1e-9' AS DOUBLE) THEN 10 / cc_den * (100 - cc_s8) ELSE 0 END AS cc_l8,
    CASE WHEN refused IS NULL AND cc_present > 0 AND cc_den > 0 AND cc_s9 IS NOT NULL AND 10 / cc_den * (100 - cc_s9) > CAST('1e-9' AS DOUBLE) THEN 10 / cc_den * (100 - cc_s9) ELSE 0 END AS cc_l9
  FROM cc_sum
),
cc_ranked AS (
  SELECT cc_scored.*,
    slice(sort_array(array(named_struct('l', cc_l0, 'k', -0), named_struct('l', cc_l1, 'k', -1), named_struct('l', cc_l2, 'k', -2), named_struct('l', cc_l3, 'k', -3), named_struct('l', cc_l4, 'k', -4), named_struct('l', cc_l5, 'k', -5), named_struct('l', cc_l6, 'k', -6), named_struct('l', cc_l7, 'k', -7), named_struct('l', cc_l8, 'k', -8), named_struct('l', cc_l9, 'k', -9)), false), 1, 3) AS cc_top
  FROM cc_scored
),
cc_out AS (
  SELECT
  `account_id`,
  `snapshot_date`,
  `cc_outcome`,
  score,
  cc_g0 AS `group_relationship`,
  cc_g1 AS `group_usage`,
  cc_g2 AS `group_value`,
  CASE WHEN score IS NULL THEN NULL WHEN score >= 70 THEN 'healthy' WHEN score >= 51 THEN 'needs-attention' WHEN score >= 30 THEN 'at-risk' ELSE 'critical' END AS tier,
  CASE WHEN score IS NULL THEN NULL WHEN (CAST('-1.613942' AS DOUBLE) + CAST('-6.603459' AS DOUBLE) * score / 100) >= 0 THEN 1 / (1 + EXP(-(CAST('-1.613942' AS DOUBLE) + CAST('-6.603459' AS DOUBLE) * score / 100))) ELSE EXP((CAST('-1.613942' AS DOUBLE) + CAST('-6.603459' AS DOUBLE) * score / 100)) / (1 + EXP((CAST('-1.613942' AS DOUBLE) + CAST('-6.603459' AS DOUBLE) * score / 100))) END AS p_churn,
  CASE WHEN cc_top[0].l > 0 THEN element_at(array('NPS', 'CSM assessment', 'Executive sponsor', 'Active users', 'Logins per user', 'Feature adoption', 'Goals met', 'Days past due', 'Revenue growth', 'Support tickets'), 1 - cc_top[0].k) END AS reason_1,
  CASE WHEN cc_top[0].l > 0 THEN cc_top[0].l END AS reason_1_points,
  CASE WHEN cc_top[1].l > 0 THEN element_at(array('NPS', 'CSM assessment', 'Executive sponsor', 'Active users', 'Logins per user', 'Feature adoption', 'Goals met', 'Days past due', 'Revenue growth', 'Support tickets'), 1 - cc_top[1].k) END AS reason_2,
  CASE WHEN cc_top[1].l > 0 THEN cc_top[1].l END AS reason_2_points,
  CASE WHEN cc_top[2].l > 0 THEN element_at(array('NPS', 'CSM assessment', 'Executive sponsor', 'Active users', 'Logins per user', 'Feature adoption', 'Goals met', 'Days past due', 'Revenue growth', 'Support tickets'), 1 - cc_top[2].k) END AS reason_3,
  CASE WHEN cc_top[2].l > 0 THEN cc_top[2].l END AS reason_3_points,
  refused
  FROM cc_ranked
)
,
cc_y AS (
  SELECT cc_out.*, CASE WHEN LOWER(NULLIF(TRIM(CAST(cc_outcome AS STRING)), '')) IN ('1', 'true', 'yes', 'churned', 'y', '1.0') THEN 1 WHEN LOWER(NULLIF(TRIM(CAST(cc_outcome AS STRING)), '')) IN ('0', 'false', 'no', 'renewed', 'n', '0.0') THEN 0 END AS cc_y FROM cc_out WHERE cc_outcome IS NOT NULL
),
cc_k AS (
  SELECT cc_y.*, CASE WHEN LEAD(1) OVER (PARTITION BY `account_id` ORDER BY `snapshot_date`) IS NULL THEN 1 WHEN cc_y = 1 AND LEAD(cc_y) OVER (PARTITION BY `account_id` ORDER BY `snapshot_date`) = 0 THEN 1 ELSE 0 END AS cc_unit FROM cc_y WHERE cc_y IS NOT NULL AND refused IS NULL
),
cc_b AS (
  SELECT cc_k.*, CASE WHEN score <= 30 THEN '≤ 30' WHEN score < 50 THEN '30–50' ELSE '≥ 50' END AS cc_band FROM cc_k WHERE score IS NOT NULL
)
SELECT 'overall' AS kind, CAST(NULL AS STRING) AS label, CAST(NULL AS STRING) AS period, CAST(NULL AS DOUBLE) AS tier_min, SUM(CASE WHEN score IS NOT NULL THEN cc_unit ELSE 0 END) AS units, COUNT(DISTINCT CASE WHEN cc_unit = 1 AND score IS NOT NULL THEN `account_id` END) AS accounts, SUM(CASE WHEN score IS NOT NULL THEN cc_unit * cc_y ELSE 0 END) AS churned, SUM(CASE WHEN score IS NOT NULL THEN 1 ELSE 0 END) AS snapshots, CAST(NULL AS DOUBLE) AS score_sum, CAST(NULL AS DOUBLE) AS score_sum_churned, CAST(NULL AS DOUBLE) AS p_sum, CAST(NULL AS DOUBLE) AS arr, CAST(NULL AS DOUBLE) AS arr_churned, SUM(CASE WHEN score IS NULL THEN cc_unit ELSE 0 END) AS unscored, (SELECT COUNT(*) FROM cc_y WHERE cc_y IS NULL OR refused IS NOT NULL) AS refused FROM cc_k
UNION ALL
SELECT 'tier' AS kind, tier AS label, CAST(NULL AS STRING) AS period, CASE tier WHEN 'healthy' THEN 70 WHEN 'needs-attention' THEN 51 WHEN 'at-risk' THEN 30 WHEN 'critical' THEN 0 END AS tier_min, SUM(cc_unit) AS units, COUNT(DISTINCT CASE WHEN cc_unit = 1 THEN `account_id` END) AS accounts, SUM(cc_unit * cc_y) AS churned, COUNT(*) AS snapshots, SUM(CASE WHEN cc_unit = 1 THEN score END) AS score_sum, SUM(CASE WHEN cc_unit = 1 AND cc_y = 1 THEN score END) AS score_sum_churned, SUM(CASE WHEN cc_unit = 1 THEN p_churn END) AS p_sum, CAST(NULL AS DOUBLE) AS arr, CAST(NULL AS DOUBLE) AS arr_churned, 0 AS unscored, 0 AS refused FROM cc_b GROUP BY tier
UNION ALL
SELECT 'band' AS kind, cc_band AS label, CAST(NULL AS STRING) AS period, CAST(NULL AS DOUBLE) AS tier_min, SUM(cc_unit) AS units, COUNT(DISTINCT CASE WHEN cc_unit = 1 THEN `account_id` END) AS accounts, SUM(cc_unit * cc_y) AS churned, COUNT(*) AS snapshots, SUM(CASE WHEN cc_unit = 1 THEN score END) AS score_sum, SUM(CASE WHEN cc_unit = 1 AND cc_y = 1 THEN score END) AS score_sum_churned, SUM(CASE WHEN cc_unit = 1 THEN p_churn END) AS p_sum, CAST(NULL AS DOUBLE) AS arr, CAST(NULL AS DOUBLE) AS arr_churned, 0 AS unscored, 0 AS refused FROM cc_b GROUP BY cc_band
UNION ALL
SELECT 'trend' AS kind, tier AS label, CAST(`snapshot_date` AS STRING) AS period, CAST(NULL AS DOUBLE) AS tier_min, 0 AS units, 0 AS accounts, SUM(cc_y) AS churned, COUNT(*) AS snapshots, SUM(score) AS score_sum, CAST(NULL AS DOUBLE) AS score_sum_churned, CAST(NULL AS DOUBLE) AS p_sum, CAST(NULL AS DOUBLE) AS arr, CAST(NULL AS DOUBLE) AS arr_churned, 0 AS unscored, 0 AS refused FROM cc_b GROUP BY tier, `snapshot_date`
ORDER BY kind, label, period;
