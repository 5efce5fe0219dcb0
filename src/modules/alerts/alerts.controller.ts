import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { clientAddress, Identity, OpsRequest, requestId } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { AlertNotificationPage, AlertsOverviewModel, AlertsQuery, NotificationsQuery, WebhookReceipt } from './alerts.dto';
import { AlertsService } from './alerts.service';
import { webhookPayload } from './webhook.schema';

function payloadSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(webhookPayload, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}

@ApiTags('alerts')
@Controller('api/v1/alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  @Get()
  @RequireRight('alerts.read')
  @ApiOperation({
    summary:
      'Firing alerts from Alertmanager grouped by alertname (each with the procedure that addresses it) and the silences, those created by the control plane marked with their run; 503 naming Alertmanager when it does not answer',
  })
  @ApiOkResponse({ type: AlertsOverviewModel })
  overview(@Query() query: AlertsQuery): Promise<AlertsOverviewModel> {
    return this.alerts.overview(query);
  }

  @Get('notifications')
  @RequireRight('alerts.read')
  @ApiOperation({ summary: "Notifications received from Alertmanager's webhook, newest first" })
  @ApiOkResponse({ type: AlertNotificationPage })
  notifications(@Query() query: NotificationsQuery): Promise<AlertNotificationPage> {
    return this.alerts.notifications(query);
  }

  @Post('webhook')
  @HttpCode(200)
  @RequireRight('alerts.receive', { action: 'alerts.webhook' })
  @ApiOperation({
    summary:
      "Alertmanager's webhook receiver (payload version 4), with an API token in http_config (authorization: Bearer opsk_…). Idempotent: a retried or repeated notification (same groupKey, status and alerts) is stored once",
  })
  @ApiBody({ schema: payloadSchema() })
  @ApiOkResponse({ type: WebhookReceipt })
  async receive(@Body() body: unknown, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest): Promise<WebhookReceipt> {
    const receipt = await this.alerts.receive(body, identity, {
      action: 'alerts.webhook',
      requestId: requestId(req) ?? null,
      clientAddress: clientAddress(req) ?? null,
    });
    req.auditTarget = `alert-notification:${receipt.id}`;
    req.auditWritten = true;
    return receipt;
  }
}
