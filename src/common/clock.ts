import { Injectable } from '@nestjs/common';

/** Time is injected so that schedules, expiries and lockouts can be tested. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
