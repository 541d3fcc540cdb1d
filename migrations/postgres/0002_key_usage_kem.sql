-- The view `key_usage` (docs/read-models.md) counts Encapsulate and Decapsulate as
-- cryptographic use, as the model's KeyLastUsageTrackingOperation does (ML-KEM keys).
-- Same definition as before otherwise; the table under it is unchanged.
DROP VIEW IF EXISTS key_usage;
CREATE VIEW key_usage (key_id, last_used_at, last_operation, last_event_id, last_position) AS
SELECT key_id,
       CASE WHEN crypto THEN last_used_at END,
       CASE WHEN crypto THEN operation END,
       CASE WHEN crypto THEN last_event_id END,
       CASE WHEN crypto THEN last_position END
FROM (
    SELECT key_id, operation, last_used_at, last_event_id, last_position,
           operation IN ('Decapsulate', 'Decrypt', 'DeriveSharedSecret', 'Encapsulate', 'Encrypt',
                         'GenerateDataKey', 'GenerateDataKeyPair',
                         'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext',
                         'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac') AND last_position IS NOT NULL AS crypto,
           ROW_NUMBER() OVER (
               PARTITION BY key_id
               ORDER BY operation IN ('Decapsulate', 'Decrypt', 'DeriveSharedSecret', 'Encapsulate', 'Encrypt',
                         'GenerateDataKey', 'GenerateDataKeyPair',
                         'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext',
                         'GenerateMac', 'ReEncrypt', 'Sign', 'Verify', 'VerifyMac') AND last_position IS NOT NULL DESC,
                        last_position DESC
           ) AS rank
    FROM key_usage_by_operation
) AS ranked WHERE rank = 1;
