import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { appendLineDurably } from '../common/durable-append';
import { MasterKey } from '../config/master-key';

/** One anchor: the chain's head (its newest entry's id and hash) at a moment, signed. */
export interface Anchor {
  at: string;
  id: string;
  hash: string;
  /** The master key's public fingerprint. */
  keyId: string;
  /** HMAC of the other fields with the audit key: an anchor cannot be forged without it. */
  mac: string;
}

export interface AnchorRead {
  anchors: Anchor[];
  /** Lines that are not anchors of this key (unreadable, or signed by another key), by line number. */
  problems: string[];
}

/**
 * The audit chain's anchors outside the database: an append-only file of JSON lines (one
 * per interval in which the chain grew), each signed with the audit key. Whoever can rewrite
 * or truncate the database cannot reach this file, so `/audit/verify` finds a removed tail or
 * a rewritten entry by comparing the chain with it.
 */
export class AnchorFile {
  readonly path: string;

  constructor(
    path: string,
    private readonly masterKey: MasterKey,
  ) {
    this.path = resolve(path);
  }

  private mac(id: string, hash: string, at: string): string {
    return this.masterKey.hmac('audit-chain').update(`anchor\n${id}\n${hash}\n${at}`).digest('hex');
  }

  /** Appends an anchor and syncs it to disk before returning it. */
  append(id: string, hash: string, at: Date): Anchor {
    const iso = at.toISOString();
    const anchor: Anchor = { at: iso, id, hash, keyId: this.masterKey.id, mac: this.mac(id, hash, iso) };
    appendLineDurably(this.path, JSON.stringify(anchor));
    return anchor;
  }

  read(): AnchorRead {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { anchors: [], problems: [] };
      return { anchors: [], problems: [`the anchor file ${this.path} cannot be read: ${(error as Error).message}`] };
    }
    const anchors: Anchor[] = [];
    const problems: string[] = [];
    text.split('\n').forEach((line, index) => {
      if (!line.trim()) return;
      let anchor: Partial<Anchor>;
      try {
        anchor = JSON.parse(line) as Partial<Anchor>;
      } catch {
        problems.push(`anchor line ${index + 1} is not JSON`);
        return;
      }
      if (
        typeof anchor.id !== 'string' ||
        typeof anchor.hash !== 'string' ||
        typeof anchor.at !== 'string' ||
        typeof anchor.mac !== 'string'
      ) {
        problems.push(`anchor line ${index + 1} is not an anchor`);
        return;
      }
      if (anchor.mac !== this.mac(anchor.id, anchor.hash, anchor.at)) {
        problems.push(
          `anchor line ${index + 1} (entry ${anchor.id}) is not signed with this master key (key ${anchor.keyId ?? '?'}, this key ${this.masterKey.id})`,
        );
        return;
      }
      anchors.push(anchor as Anchor);
    });
    return { anchors, problems };
  }
}
