import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/** Readiness turns 503 as soon as shutdown begins, so balancers stop sending traffic. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  shuttingDown = false;

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }
}
