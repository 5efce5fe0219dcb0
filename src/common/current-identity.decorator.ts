import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Identity, OpsRequest, requestOf } from './request-context';

/** The caller's identity, as established by the global guard (REST and GraphQL). */
export const CurrentIdentity = createParamDecorator((_data: unknown, context: ExecutionContext): Identity => requestOf(context).identity!);

/** The raw request, for handlers that name their audit target. */
export const CurrentRequest = createParamDecorator((_data: unknown, context: ExecutionContext): OpsRequest => requestOf(context));
