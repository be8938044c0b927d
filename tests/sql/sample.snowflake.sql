-- churncal VERSION: sample job for profile 'three-dimensions-calibrated', snowflake dialect.
-- Every churned snapshot, and the retained snapshots of the accounts whose
-- SHA-256 of '42:<account>' starts below 3333333333333 (rate 0.2).
SELECT *
FROM "analytics"."snapshots"
WHERE LOWER(NULLIF(TRIM(CAST("churned" AS VARCHAR)), '')) IN ('1', 'true', 'yes', 'churned', 'y', '1.0')
   OR SUBSTR(SHA2('42:' || CAST("account_id" AS VARCHAR), 256), 1, 13) < '3333333333333';
