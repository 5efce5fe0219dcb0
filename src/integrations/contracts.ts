/**
 * What the integration adapters offer the rest of the control plane. One adapter class per
 * system under src/integrations/<system>/, the only place that imports its client library.
 * Every method takes CallOptions (explicit timeout) and fails only with IntegrationError.
 */
export * from './ports/docker';
export * from './ports/target-db';
export * from './ports/pg-tools';
export * from './ports/target-redis';
export * from './ports/http';
export * from './ports/prometheus';
export * from './ports/elasticsearch';
export * from './ports/alertmanager';
export * from './ports/notify';
export * from './ports/host';
