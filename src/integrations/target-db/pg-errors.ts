/**
 * How a failure of the pg client becomes an IntegrationError: by SQLSTATE when the server
 * answered, by socket error code when it did not, with the password scrubbed from the text.
 */
import { maskValues } from '../../common/secrets';
import { describeCode, errorCode, errorText, IntegrationError, IntegrationFailure, socketFailure } from '../integration-error';

// SQLSTATE classes and codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
const REFUSED_SQLSTATES = new Set(['28000', '28P01', '3D000', '53300', '42501', '57P03', '08004']);
const TIMEOUT_SQLSTATES = new Set(['57014', '55P03', '25P03']);
const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '08000', '08003', '08006', '08001']);

/** What an error message names: the system, its database, its URL with the password masked. */
export interface PgErrorTarget {
  system: string;
  database: string;
  shown: string;
  password?: string;
}

/** The typed failure of `what` on `target` (a missing table is named when the call was about one). */
export function pgError(target: PgErrorTarget, what: string, error: unknown, table?: string): IntegrationError {
  const e: any = error;
  const sqlstate: string | undefined = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const secrets = [target.password];
  const fail = (failure: IntegrationFailure, detail: string) =>
    new IntegrationError(target.system, failure, maskValues(`${target.system}: ${what} failed: ${detail}`, secrets));
  if (sqlstate === '42P01') {
    return fail('bad_response', `table ${table ?? '(unknown)'} does not exist in database ${target.database} (${errorText(error)})`);
  }
  if (sqlstate) {
    const detail = `${errorText(error)} (SQLSTATE ${sqlstate})`;
    if (TIMEOUT_SQLSTATES.has(sqlstate)) return fail('timeout', detail);
    if (REFUSED_SQLSTATES.has(sqlstate)) return fail('refused', detail);
    if (UNREACHABLE_SQLSTATES.has(sqlstate)) return fail('unreachable', detail);
    return fail('bad_response', detail);
  }
  const code = errorCode(error);
  const socket = socketFailure(code);
  if (socket) return fail(socket, `cannot connect to ${target.shown}: ${describeCode(code!)}`);
  const text = errorText(error);
  if (/timeout exceeded when trying to connect|connection timeout/i.test(text))
    return fail('timeout', `no connection to ${target.shown} in time (${text})`);
  if (/Connection terminated|connection closed|Client has encountered a connection error/i.test(text))
    return fail('unreachable', `the connection to ${target.shown} was lost (${text})`);
  if (/password authentication|SASL|no pg_hba/i.test(text)) return fail('refused', text);
  return fail('bad_response', text);
}
