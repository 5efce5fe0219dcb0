import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * HS256 keys that sign access tokens; shared by every replica through the database, each
 * encrypted with a key derived from the master key (never stored in plain text).
 */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  kid: string;

  /** AES-256-GCM of the key, bound to its kid (MasterKey.encrypt). */
  @Column({ name: 'secret_enc', type: 'text' })
  secretEnc: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt: Date | null;
}
