-- +goose Up

-- Key lookups by digest use a hash index: one bucket probe whatever the
-- number of keys, where the unique B-tree (kept for uniqueness) grows a
-- level with every hundredfold more keys.
CREATE INDEX api_keys_digest_hash_idx ON api_keys USING hash (digest);

-- +goose Down

DROP INDEX api_keys_digest_hash_idx;
