import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { DomainError } from '../../common/errors';
import { RequireRight } from '../../guards/right.decorator';
import { streamSse } from '../../procedures/sse';
import { IncidentEventStreams } from './incident-events';
import { IncidentIdPipe } from './incidents.controller';
import { EVENT_POSITION, EVENT_POSITION_MESSAGE } from './incidents-graphql.dto';

export class IncidentEventsQuery {
  @ApiPropertyOptional({
    description: 'Resume after this event id (as the Last-Event-ID header, which wins when both are sent)',
    example: '42',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(EVENT_POSITION, { message: EVENT_POSITION_MESSAGE })
  lastEventId?: string;
}

const ID = new IncidentIdPipe();

@ApiTags('incidents')
@Controller('api/v1')
export class IncidentEventsController {
  constructor(private readonly streams: IncidentEventStreams) {}

  @Get('incidents/:id/events')
  @RequireRight('incidents.read')
  @ApiOperation({
    summary:
      "The incident's timeline as Server-Sent Events: every event so far (or after Last-Event-ID), then each one as it is written, by any replica",
    description:
      'Each event is `event: <type>` (opened, note, acknowledged, …), `data: <json>` (id, incidentId, at, type, actor, message, data), `id: <n>` ' +
      '(the incident event id: send it back as Last-Event-ID to resume); a `: keep-alive` comment every 15 s. The stream stays open ' +
      '(a resolved incident can be reopened) until the client goes away.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'The event stream',
    content: {
      'text/event-stream': {
        schema: { type: 'string', example: 'event: note\ndata: {"id":"42","incidentId":"INC-20261207-001","type":"note",…}\nid: 42\n\n' },
      },
    },
  })
  @ApiNotFoundResponse({ description: 'No such incident (before the stream starts)' })
  async events(
    @Param('id', ID) id: string,
    @Query() query: IncidentEventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: object,
  ): Promise<void> {
    // An empty header is what a client sends before it has seen an id: no resume.
    const resume = lastEventId === '' ? undefined : lastEventId;
    if (resume !== undefined && !EVENT_POSITION.test(resume))
      throw DomainError.validation([{ field: 'Last-Event-ID', problem: EVENT_POSITION_MESSAGE }]);
    const feed = await this.streams.feed(id, resume ?? query.lastEventId);
    streamSse(feed, reply, this.streams.heartbeatMs);
  }
}
