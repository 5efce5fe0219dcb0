/**
 * The daily review's five dashboards (runbook "Daily Review"), one file each; this module
 * gathers them for the review service.
 */
export { apiPerformance } from './api-performance.dashboard';
export { databaseHealth } from './database-health.dashboard';
export { qt09Protocol } from './qt09-protocol.dashboard';
export { qualityControl } from './quality-control.dashboard';
export type { ReviewDashboard, ReviewInputs, ReviewMetric } from './review-metric';
export { systemOverview } from './system-overview.dashboard';
