-- churncal VERSION: sample job for profile 'three-dimensions-calibrated', bigquery dialect.
-- Every churned snapshot, and the retained snapshots of the accounts whose
-- SHA-256 of '42:<account>' starts below 3333333333333 (rate 0.2).
SELECT *
FROM `analytics`.`snapshots`
WHERE LOWER(NULLIF(TRIM(CAST(`churned` AS STRING)), '')) IN ('1', 'true', 'yes', 'churned', 'y', '1.0')
   OR SUBSTR(TO_HEX(SHA256(CONCAT('42:', CAST(`account_id` AS STRING)))), 1, 13) < '3333333333333';
