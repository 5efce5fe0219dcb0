/** What other features may use of alerts besides AlertsService: the webhook payload's type. */
export type { WebhookPayload } from './webhook.schema';
