import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** HS256 keys that sign access tokens; shared by every replica through the database. */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  kid: string;

  @Column({ type: 'varchar', length: 128 })
  secret: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt: Date | null;
}
