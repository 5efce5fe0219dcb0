/** The port of elasticsearch. */
import { CallOptions } from '../integration-error';

export interface EsClusterHealth {
  clusterName: string;
  status: 'green' | 'yellow' | 'red';
  numberOfNodes: number;
  unassignedShards: number;
}

export interface EsIndex {
  index: string;
  health: string;
  status: string;
  docsCount: number;
  storeSizeBytes: number;
  creationDate?: string;
}

export interface ElasticsearchPort {
  clusterHealth(options: CallOptions): Promise<EsClusterHealth>;
  listIndices(pattern: string, options: CallOptions): Promise<EsIndex[]>;
  count(index: string, options: CallOptions): Promise<number>;
  /**
   * DELETE /<name>,<name>… by explicit names in batches that keep the URL short; a name with
   * `*`, `,` or `_all` (or not a valid index name) is refused before anything is sent.
   * Names already gone are reported as missing, not as an error.
   */
  deleteIndices(names: string[], options: CallOptions): Promise<EsDeleteResult>;
}

export interface EsDeleteResult {
  deleted: string[];
  /** Names that did not exist (any more). */
  missing: string[];
  /** DELETE requests sent. */
  requests: number;
}
