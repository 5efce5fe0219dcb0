import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { MASTER_KEY, MasterKey } from '../../config/master-key';
import { SigningKeyEntity } from './entities/signing-key.entity';

/**
 * The HS256 keys that sign and verify access tokens, by key id (`kid`). With
 * OPS_JWT_SECRET set, that secret is the only key ("env"); otherwise a random key is made
 * once and kept in the control plane's database, encrypted with a key derived from the
 * master key (which is not in the database), so that every replica shares it and a dump
 * of the database cannot mint tokens. Retired keys still verify until they are removed;
 * unknown key ids, and keys this master key cannot decrypt, never verify.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit {
  private readonly logger = new Logger(SigningKeysService.name);
  private keys = new Map<string, string>();
  private currentKid = '';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MASTER_KEY) private readonly masterKey: MasterKey,
    @InjectRepository(SigningKeyEntity) private readonly repo: Repository<SigningKeyEntity>,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  /** The keys this master key can open; the rest (another master key's) are skipped and named in the log. */
  private async readable(rows: SigningKeyEntity[]): Promise<Map<string, string>> {
    const keys = new Map<string, string>();
    const foreign: string[] = [];
    for (const row of rows) {
      const secret = this.masterKey.decrypt('signing-keys', row.secretEnc, row.kid);
      if (secret === null) foreign.push(row.kid);
      else keys.set(row.kid, secret);
    }
    if (foreign.length)
      this.logger.warn(
        `signing keys ${foreign.join(', ')} were encrypted with another master key and are not used (tokens they signed are refused)`,
      );
    return keys;
  }

  async reload(): Promise<void> {
    if (this.config.OPS_JWT_SECRET) {
      this.keys = new Map([['env', this.config.OPS_JWT_SECRET]]);
      this.currentKid = 'env';
      return;
    }
    // The kid depends on the master key: replicas with the same master key starting together
    // insert the same row and the first one wins (ON CONFLICT DO NOTHING), so they all sign
    // with one key; a new master key makes a new key instead of failing on the old row.
    const kid = `k-${this.masterKey.id}`;
    let keys = await this.readable(await this.repo.find());
    if (!keys.has(kid)) {
      const secretEnc = this.masterKey.encrypt('signing-keys', randomBytes(48).toString('base64url'), kid);
      await this.repo.createQueryBuilder().insert().values({ kid, secretEnc }).orIgnore().execute();
      keys = await this.readable(await this.repo.find());
    }
    const active = await this.repo.find({ where: { retiredAt: IsNull() }, order: { createdAt: 'DESC' } });
    const usable = active.find((row) => keys.has(row.kid));
    if (!usable) throw new Error('no signing key this master key can decrypt is active');
    this.keys = keys;
    this.currentKid = usable.kid;
  }

  current(): { kid: string; secret: string } {
    return { kid: this.currentKid, secret: this.keys.get(this.currentKid)! };
  }

  secretFor(kid: string | undefined): string | undefined {
    return kid ? this.keys.get(kid) : undefined;
  }
}
