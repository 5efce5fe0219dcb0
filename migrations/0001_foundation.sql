-- Foundation: users, API tokens, JWT signing keys, and the append-only audit trail.

CREATE TABLE users (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username        varchar(64) NOT NULL,
  password_hash   varchar(255) NOT NULL,
  role            varchar(20) NOT NULL,
  disabled        boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_login_at   timestamptz,
  CONSTRAINT users_username_key UNIQUE (username),
  CONSTRAINT users_role_check CHECK (role IN ('viewer', 'operator', 'support', 'senior_dev', 'dba', 'admin'))
);

CREATE TABLE api_tokens (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name            varchar(100) NOT NULL,
  token_hash      char(64) NOT NULL,
  prefix          varchar(16) NOT NULL,
  role            varchar(20) NOT NULL,
  created_by      varchar(64) NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  last_used_at    timestamptz,
  revoked_at      timestamptz,
  revoked_by      varchar(64),
  CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
  CONSTRAINT api_tokens_role_check CHECK (role IN ('viewer', 'operator', 'support', 'senior_dev', 'dba', 'admin'))
);
CREATE INDEX api_tokens_created_at_idx ON api_tokens (created_at, id);

CREATE TABLE signing_keys (
  kid             varchar(32) PRIMARY KEY,
  secret          varchar(128) NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  retired_at      timestamptz
);

CREATE TABLE audit_entries (
  id              bigint PRIMARY KEY,
  at              timestamptz NOT NULL,
  actor           varchar(128) NOT NULL,
  actor_role      varchar(20),
  action          varchar(100) NOT NULL,
  target          varchar(255),
  parameters      jsonb NOT NULL,
  outcome         varchar(20) NOT NULL,
  error_code      varchar(40),
  request_id      varchar(64),
  client_address  varchar(64),
  prev_hash       char(64) NOT NULL,
  hash            char(64) NOT NULL,
  CONSTRAINT audit_entries_outcome_check CHECK (outcome IN ('success', 'failure', 'denied'))
);
CREATE SEQUENCE audit_entries_id_seq OWNED BY audit_entries.id;
CREATE INDEX audit_entries_at_idx ON audit_entries (at, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, id);

-- The audit trail is append-only: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION audit_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change();
