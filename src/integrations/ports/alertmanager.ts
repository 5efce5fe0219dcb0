/** The port of alertmanager/ (API v2). */
import { CallOptions } from '../integration-error';

export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  /** false: the matcher is negated (!= or !~); default true. */
  isEqual?: boolean;
}

export type AmAlertState = 'unprocessed' | 'active' | 'suppressed';

export interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  generatorURL?: string;
  status: { state: AmAlertState; silencedBy: string[]; inhibitedBy: string[] };
  /** Receiver names. */
  receivers: string[];
}

/** An alert as POSTed to /api/v2/alerts (what Prometheus sends). */
export interface AmAlertInput {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export type AmSilenceState = 'active' | 'pending' | 'expired';

export interface AmSilence {
  id: string;
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: AmSilenceState };
  updatedAt?: string;
}

export interface AmSilenceInput {
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface AmStatus {
  /** Cluster status: ready, settling or disabled. */
  cluster: string;
  version: string;
  uptime: string;
}

export interface AmAlertQuery {
  active?: boolean;
  silenced?: boolean;
  inhibited?: boolean;
  unprocessed?: boolean;
  /** Matchers, each sent as one repeated `filter` parameter: `alertname="X"` or an AmMatcher (formatted and quoted by the adapter). */
  filter?: (string | AmMatcher)[];
  /** Receiver name regex. */
  receiver?: string;
}

export interface AlertmanagerPort {
  /** GET /api/v2/status: cluster status and version. */
  status(options: CallOptions): Promise<AmStatus>;
  /** GET /api/v2/alerts with the given flags (Alertmanager's defaults: all true) and `filter` matchers. */
  alerts(query: AmAlertQuery, options: CallOptions): Promise<AmAlert[]>;
  /** POST /api/v2/alerts (as Prometheus does; tests and manual alerts). */
  postAlerts(alerts: AmAlertInput[], options: CallOptions): Promise<void>;
  /** GET /api/v2/silences (every state, expired included), optionally with `filter` matchers. */
  silences(options: CallOptions & { filter?: (string | AmMatcher)[] }): Promise<AmSilence[]>;
  /** GET /api/v2/silence/{id}; an unknown id is a bad_response with status 404. */
  silence(id: string, options: CallOptions): Promise<AmSilence>;
  /** POST /api/v2/silences → the new silence's id (always store the returned id). */
  createSilence(silence: AmSilenceInput, options: CallOptions): Promise<string>;
  /** DELETE /api/v2/silence/{id} (expires it; the silence stays listed as expired). */
  expireSilence(id: string, options: CallOptions): Promise<void>;
}
