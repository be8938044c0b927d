-- churncal VERSION: sample job for profile 'three-dimensions-calibrated', postgres dialect.
-- Every churned snapshot, and the retained snapshots of the accounts whose
-- SHA-256 of '42:<account>' starts below 3333333333333 (rate 0.2).
SELECT *
FROM "analytics"."snapshots"
WHERE LOWER(NULLIF(TRIM(CAST("churned" AS TEXT)), '')) IN ('1', 'true', 'yes', 'churned', 'y', '1.0')
   OR SUBSTR(encode(sha256(convert_to('42:' || CAST("account_id" AS TEXT), 'UTF8')), 'hex'), 1, 13) COLLATE "C" < '3333333333333';
