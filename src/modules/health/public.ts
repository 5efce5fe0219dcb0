/**
 * What the health feature shares with other features besides its services: the verdict vocabulary and the
 * helpers that grade a reading (the daily review grades its dashboards with them). Other features import health
 * only through this file, its services and its module (rule `feature-reaches-into-another-feature` in
 * .dependency-cruiser.cjs), so the checks' internals can change without touching them.
 */
export { bandVerdict, describeFailure, VERDICTS, worst } from './check';
export type { Verdict } from './check';
