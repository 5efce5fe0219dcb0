import { randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { SigningKeyEntity } from './entities/signing-key.entity';

/**
 * The HS256 keys that sign and verify access tokens, by key id (`kid`). With
 * OPS_JWT_SECRET set, that secret is the only key ("env"); otherwise a random key is
 * made once and kept in the control plane's database so that every replica shares it.
 * Retired keys still verify until they are removed; unknown key ids never verify.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit {
  private keys = new Map<string, string>();
  private currentKid = '';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(SigningKeyEntity) private readonly repo: Repository<SigningKeyEntity>,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  async reload(): Promise<void> {
    if (this.config.OPS_JWT_SECRET) {
      this.keys = new Map([['env', this.config.OPS_JWT_SECRET]]);
      this.currentKid = 'env';
      return;
    }
    let active = await this.repo.find({ where: { retiredAt: IsNull() }, order: { createdAt: 'DESC' } });
    if (active.length === 0) {
      // A fixed id for the first key: replicas starting together insert the same row, and
      // the first one wins (ON CONFLICT DO NOTHING), so they all sign with one key.
      await this.repo.createQueryBuilder().insert().values({ kid: 'k1', secret: randomBytes(48).toString('base64url') }).orIgnore().execute();
      active = await this.repo.find({ where: { retiredAt: IsNull() }, order: { createdAt: 'DESC' } });
    }
    const all = await this.repo.find();
    this.keys = new Map(all.map((k) => [k.kid, k.secret]));
    this.currentKid = active[0].kid;
  }

  current(): { kid: string; secret: string } {
    return { kid: this.currentKid, secret: this.keys.get(this.currentKid)! };
  }

  secretFor(kid: string | undefined): string | undefined {
    return kid ? this.keys.get(kid) : undefined;
  }
}
