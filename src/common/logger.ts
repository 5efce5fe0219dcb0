import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Paths pino blanks out in every log line: no secret in any log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.secret',
  'password',
  'token',
  'accessToken',
];

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'erp-ops-control-plane' },
    redact: { paths: REDACT_PATHS, censor: '****' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

const NEST_CHATTER = new Set(['RouterExplorer', 'RoutesResolver', 'InstanceLoader', 'NestFactory', 'GraphQLModule']);

/** Nest's logger interface on top of pino: structured JSON lines. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, params: unknown[]) {
    const context = typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    if (message && typeof message === 'object') {
      this.logger[level]({ context, ...(message as object) }, typeof params[0] === 'string' ? (params[0] as string) : undefined);
    } else {
      this.logger[level]({ context }, String(message));
    }
  }

  log(message: unknown, ...params: unknown[]) {
    // Nest's start-up chatter (module and route mapping) is debug detail.
    const quiet = typeof params[params.length - 1] === 'string' && NEST_CHATTER.has(params[params.length - 1] as string);
    this.write(quiet ? 'debug' : 'info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    // Nest passes a stack trace as the second argument; keep it as a field.
    const stack = typeof params[0] === 'string' && params.length > 1 ? params.shift() : undefined;
    this.write('error', stack ? { msg: message, stack } : message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('trace', message, params);
  }
}
