import { Inventory } from '../../config/inventory.schema';
import { NotificationDelivery, NotificationMessage, NotifierPort } from '../contracts';

/** PLACEHOLDER being written (chat webhook + nodemailer SMTP). */
export class Notifier implements NotifierPort {
  constructor(private readonly notifications: Inventory['notifications']) {}

  async send(_message: NotificationMessage): Promise<NotificationDelivery[]> {
    void this.notifications;
    return [];
  }
}
