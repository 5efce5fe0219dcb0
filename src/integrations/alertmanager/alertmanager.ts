import { AlertmanagerPort, AmAlert, AmMatcher, AmSilence } from '../contracts';
import { CallOptions } from '../integration-error';

/** PLACEHOLDER being written (Alertmanager API v2 client). */
export class Alertmanager implements AlertmanagerPort {
  constructor(private readonly baseUrl: string) {}
  async status(_o: CallOptions): Promise<{ cluster: string; version: string }> {
    throw new Error(`not built yet (${this.baseUrl})`);
  }
  async alerts(_q: object, _o: CallOptions): Promise<AmAlert[]> {
    throw new Error('not built yet');
  }
  async silences(_o: CallOptions): Promise<AmSilence[]> {
    throw new Error('not built yet');
  }
  async silence(_id: string, _o: CallOptions): Promise<AmSilence> {
    throw new Error('not built yet');
  }
  async createSilence(_s: { matchers: AmMatcher[]; startsAt: string; endsAt: string; createdBy: string; comment: string }, _o: CallOptions): Promise<string> {
    throw new Error('not built yet');
  }
  async expireSilence(_id: string, _o: CallOptions): Promise<void> {
    throw new Error('not built yet');
  }
}
