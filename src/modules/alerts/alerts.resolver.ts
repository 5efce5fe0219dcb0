import { Args, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { PageOf } from '../../common/graphql-page';
import { RequireRight } from '../../guards/right.decorator';
import { AlertNotificationModel, AlertsArgs, AlertsOverviewModel, NotificationsArgs } from './alerts.dto';
import { AlertsService } from './alerts.service';

@ObjectType('AlertNotificationPage')
class AlertNotificationPageModel extends PageOf(AlertNotificationModel, 'AlertNotificationPageBase') {}

/** GraphQL equivalents of GET /api/v1/alerts and /api/v1/alerts/notifications (the webhook is REST only). */
@Resolver()
export class AlertsResolver {
  constructor(private readonly service: AlertsService) {}

  @Query(() => AlertsOverviewModel, { description: 'Firing alerts grouped by alertname, with their procedures, and the silences' })
  @RequireRight('alerts.read')
  alerts(@Args() args: AlertsArgs): Promise<AlertsOverviewModel> {
    return this.service.overview(args);
  }

  @Query(() => AlertNotificationPageModel, { description: "Notifications received from Alertmanager's webhook, newest first" })
  @RequireRight('alerts.read')
  alertNotifications(@Args() args: NotificationsArgs) {
    return this.service.notifications(args);
  }
}
