import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Role } from '../../../common/rights';
import { UserEntity } from './user.entity';

@Entity({ name: 'api_tokens' })
@Check('api_tokens_role_check', `role IN ('viewer', 'operator', 'support', 'senior_dev', 'dba', 'admin')`)
@Unique('api_tokens_token_hash_key', ['tokenHash'])
@Check('api_tokens_kind_check', `kind IN ('user', 'service')`)
@Check(
  'api_tokens_principal_check',
  `(kind = 'user' AND role IS NOT NULL AND (owner_id IS NOT NULL OR revoked_at IS NOT NULL)) OR (kind = 'service' AND role IS NULL AND owner_id IS NULL AND cardinality(scopes) > 0)`,
)
@Index('api_tokens_created_at_idx', ['createdAt', 'id'])
@Index('api_tokens_owner_idx', ['ownerId'])
export class ApiTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** SHA-256 of the token; the token itself is shown once and never stored. */
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  /** The token's first characters, to recognise it in lists. */
  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  /** A person's token (counts as its owner) or a service identity (scopes, no role, no owner). */
  @Column({ type: 'varchar', length: 10, default: 'user' })
  kind: 'user' | 'service';

  /** The role a person's token acts with (never more than its owner's); null for services. */
  @Column({ type: 'varchar', length: 20, nullable: true })
  role: Role | null;

  /** The person the token belongs to and counts as. */
  @Column({ name: 'owner_id', type: 'uuid', nullable: true })
  ownerId: string | null;

  @ManyToOne(() => UserEntity, { nullable: true })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'api_tokens_owner_id_fkey' })
  owner?: UserEntity | null;

  /** A service identity's rights. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes: string[];

  @Column({ name: 'created_by', type: 'varchar', length: 64 })
  createdBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_by', type: 'varchar', length: 64, nullable: true })
  revokedBy: string | null;
}
