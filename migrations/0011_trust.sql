-- Trust (issue 12): a person is a person, access tokens end with the session, the audit
-- chain is keyed, and signing keys are no longer kept in plain text.

-- Access tokens carry the user's session version; a password change, a disable or a role
-- change bumps it and every access token issued before stops verifying.
ALTER TABLE users ADD COLUMN session_version integer NOT NULL DEFAULT 0;

-- Every API token belongs to a person (owner_id) and counts as that person, or it is a
-- service identity (kind 'service', e.g. Alertmanager) with explicit scopes, no role and
-- no owner, that can never approve.
ALTER TABLE api_tokens ADD COLUMN kind varchar(10) NOT NULL DEFAULT 'user';
ALTER TABLE api_tokens ADD COLUMN owner_id uuid REFERENCES users (id);
ALTER TABLE api_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_tokens ALTER COLUMN role DROP NOT NULL;
UPDATE api_tokens t SET owner_id = u.id FROM users u WHERE u.username = t.created_by;
-- Tokens whose creator is not a user (a token made by another token) have no person to
-- count as: they are revoked, and say why.
UPDATE api_tokens SET revoked_at = now(), revoked_by = 'migration 0011: no owner'
  WHERE owner_id IS NULL AND revoked_at IS NULL;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_kind_check CHECK (kind IN ('user', 'service'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_principal_check CHECK (
  (kind = 'user' AND role IS NOT NULL AND (owner_id IS NOT NULL OR revoked_at IS NOT NULL))
  OR (kind = 'service' AND role IS NULL AND owner_id IS NULL AND cardinality(scopes) > 0));
CREATE INDEX api_tokens_owner_idx ON api_tokens (owner_id);

-- The two-person rule compares people, not names.
ALTER TABLE procedure_runs ADD COLUMN requested_by_id uuid;
ALTER TABLE procedure_runs ADD COLUMN approved_by_id uuid;
UPDATE procedure_runs r SET requested_by_id = u.id FROM users u WHERE u.username = r.requested_by;

-- Audit entries from now on are chained with an HMAC whose key lives outside the
-- database (chain_version 2); the entries before stay SHA-256 (version 1) and are valid
-- only as the chain's beginning. actor_via names the API token a person acted through.
ALTER TABLE audit_entries ADD COLUMN chain_version smallint NOT NULL DEFAULT 1;
ALTER TABLE audit_entries ADD COLUMN actor_via varchar(128);
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_chain_version_check CHECK (chain_version IN (1, 2));

-- Signing keys are encrypted with a key derived from the master key (outside the
-- database). The plain-text keys may be in any dump taken so far: they are dropped, so
-- that a dump can no longer mint tokens (access tokens signed with them end; sign in again).
DELETE FROM signing_keys;
ALTER TABLE signing_keys DROP COLUMN secret;
ALTER TABLE signing_keys ADD COLUMN secret_enc text NOT NULL;
