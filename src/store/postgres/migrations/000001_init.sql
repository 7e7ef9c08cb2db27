-- 000001: audit_logs, partitioned by month on created_at, and the partition helper.
-- "{{schema}}" is replaced with the configured schema (a validated lower-case identifier)
-- by src/store/migrate.ts; the runner has already created the schema.

CREATE TABLE "{{schema}}".audit_logs (
  id             uuid        NOT NULL,
  tenant_id      text        NOT NULL,
  user_id        text,
  resource_type  text,
  resource_id    text,
  event_type     text        NOT NULL,
  event_category text        NOT NULL,
  description    text,
  metadata       jsonb       NOT NULL DEFAULT '{}',
  ip_address     inet,
  user_agent     text,
  created_at     timestamptz NOT NULL,
  producer_id    text,
  producer_seq   bigint,
  -- SHA-256 as 32 raw bytes: half the size of hex text in the heap; read back with encode(hash, 'hex').
  hash           bytea       NOT NULL,
  ingested_at    timestamptz NOT NULL DEFAULT now(),
  -- A unique key on a partitioned table must contain the partition key, so uniqueness is
  -- (id, created_at): a re-delivered event carries the same sealed created_at and hits it.
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

-- btree rather than BRIN: `query` (newest first, LIMIT) and `scan` (keyset on
-- (created_at, id)) need rows in index order; BRIN can only hand back whole block ranges
-- that must be sorted again, which makes every page O(rows in the range). Inserts arrive
-- nearly in created_at order, so this index is appended at its right edge and stays cheap.
CREATE INDEX audit_logs_created_idx ON "{{schema}}".audit_logs (created_at, id);
-- "What did this user do" and "what happened to this resource", newest first per tenant.
CREATE INDEX audit_logs_tenant_user_idx ON "{{schema}}".audit_logs (tenant_id, user_id, created_at);
CREATE INDEX audit_logs_tenant_resource_idx
  ON "{{schema}}".audit_logs (tenant_id, resource_type, resource_id, created_at);

-- Creates the monthly partitions (UTC months) covering the given instants, if missing.
-- Serialized by a transaction-scoped advisory lock so that concurrent appenders and
-- migrators never race on the same CREATE TABLE; IF NOT EXISTS makes the loser a no-op.
-- Partition bounds are written with an explicit +00 so the session TimeZone is irrelevant.
CREATE FUNCTION "{{schema}}".ensure_audit_partitions(instants timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamp;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('auditline:partitions:{{schema}}'));
  FOR month_start IN
    SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'UTC') FROM unnest(instants) AS t
  LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.audit_logs FOR VALUES FROM (%L) TO (%L)',
      '{{schema}}',
      'audit_logs_' || to_char(month_start, 'YYYY_MM'),
      '{{schema}}',
      to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00'
    );
  END LOOP;
END;
$$;

-- The initial window: the previous month (events may be up to 30 days old) through three
-- months ahead. `append` creates any other month it meets, so this is only a head start.
SELECT "{{schema}}".ensure_audit_partitions(
  ARRAY(SELECT now() + make_interval(months => m) FROM generate_series(-1, 3) AS m)
);
