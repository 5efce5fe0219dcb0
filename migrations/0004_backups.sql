-- The backup catalog: every backup file the control plane made, with what proves it.
-- A row exists only for a file that was completely written (temporary name, fsync, rename).

CREATE TABLE backups (
  id                   uuid PRIMARY KEY,
  file_name            varchar(255) NOT NULL,
  kind                 varchar(20) NOT NULL,
  size_bytes           bigint NOT NULL,
  sha256               char(64) NOT NULL,
  database_name        varchar(128) NOT NULL,
  database_size_bytes  bigint NOT NULL,
  server_version       varchar(100) NOT NULL,
  dump_via             varchar(20) NOT NULL,
  exit_status          integer NOT NULL,
  duration_ms          integer NOT NULL,
  uncompressed_bytes   bigint NOT NULL,
  row_counts           jsonb NOT NULL,
  run_id               uuid,
  created_at           timestamptz NOT NULL,
  verify_status        varchar(20) NOT NULL DEFAULT 'unverified',
  verified_at          timestamptz,
  verify_error         text,
  drill_duration_ms    integer,
  deleted_at           timestamptz,
  deleted_by           varchar(128),
  CONSTRAINT backups_kind_check CHECK (kind IN ('manual', 'scheduled', 'safety')),
  CONSTRAINT backups_verify_status_check CHECK (verify_status IN ('unverified', 'verified', 'failed')),
  CONSTRAINT backups_dump_via_check CHECK (dump_via IN ('docker-exec', 'tcp'))
);
CREATE UNIQUE INDEX backups_file_name_key ON backups (file_name) WHERE deleted_at IS NULL;
CREATE INDEX backups_created_at_idx ON backups (created_at, id);
