import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { Role, roleHasLevel, ROLES } from '../../common/rights';
import { INVENTORY } from '../../config/config.module';
import { escalationOf, situationProblem } from '../../config/escalation';
import { IncidentRotation, IncidentSeverity } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { AuditService } from '../../audit/audit.service';
import { AlertsService } from '../alerts/alerts.service';
import { EscalationEngine } from './escalation.engine';
import { IncidentIntake } from './incident-intake';
import { IncidentLifecycle } from './incident-lifecycle';
import { IncidentSnapshot, readIncident, readSnapshot, readTimeline } from './incident-reads';
import { addEvent, EventRow, IncidentRow, lockIncident, updated } from './incident-store';
import { IncidentMetrics } from './incident.metrics';
import { contactsOf, Level, levelOf, onCallAt, rotationOnCall } from './oncall';
import { oncallProblems } from './oncall-problems';

export interface IncidentFilter {
  status?: string[];
  severity?: string[];
  component?: string;
  assignee?: string;
  from?: Date;
  to?: Date;
  limit?: number;
  cursor?: string;
}

/** Raised when a link is refused: expired, used, forged. */
const linkRefused = (problem: string) => new DomainError(ErrorCode.ValidationFailed, `this acknowledge link ${problem}`, { link: problem });

/**
 * Incidents: reading them, and every change a person makes (acknowledge, resolve, reopen,
 * note, status update, escalate, assign, report, a run from the incident). Rights: acting on
 * a Pn incident needs the right to act at Pn on its domain (the escalation matrix); the 403
 * names whom to call.
 */
@Injectable()
export class IncidentsService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly lifecycle: IncidentLifecycle,
    private readonly intake: IncidentIntake,
    private readonly engine: EscalationEngine,
    private readonly alerts: AlertsService,
    private readonly clock: Clock,
    private readonly metrics: IncidentMetrics,
    private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.alerts.onDeliveries = async (m, deliveries) => {
      const results = await this.intake.intakeMany(m, deliveries);
      const timersChanged = [...new Set(results.flatMap((r) => r.timersChanged))];
      // Once the deliveries are committed (not before: the engine would not see their pages yet),
      // send the new pages and queue the wake-ups of the timers that changed. An alert joining an
      // open incident changes neither (ops_incidents_open is read at each scrape).
      const afterCommit = timersChanged.length
        ? () => {
            this.engine.kick();
            for (const id of timersChanged) void this.engine.wakeForIncident(id).catch(() => undefined);
          }
        : undefined;
      return { results, afterCommit };
    };
  }

  async list(filter: IncidentFilter): Promise<Page<IncidentRow>> {
    const size = pageSize(filter.limit);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.status?.length) add('status = ANY(?)', filter.status);
    if (filter.severity?.length) add('severity = ANY(?)', filter.severity);
    if (filter.component) add('component = ?', filter.component);
    if (filter.assignee) add('assignee = ?', filter.assignee);
    if (filter.from) add('created_at >= ?', filter.from);
    if (filter.to) add('created_at < ?', filter.to);
    const after = decodeCursor(filter.cursor, ['date', 'text']);
    if (after) {
      params.push(new Date(after[0]), after[1]);
      where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(size + 1);
    const rows: IncidentRow[] = await this.dataSource.query(
      `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > size ? encodeCursor([last.created_at.toISOString(), last.id]) : null };
  }

  get(id: string): Promise<IncidentRow> {
    return readIncident(this.dataSource, id);
  }

  /** An incident with everything attached to it, as of one moment: a run's end and its timeline event are seen together. */
  snapshot(id: string): Promise<IncidentSnapshot> {
    return this.dataSource.transaction('REPEATABLE READ', (m) => readSnapshot(m, id));
  }

  async timeline(id: string, afterId = 0): Promise<EventRow[]> {
    await this.get(id);
    return readTimeline(this.dataSource, id, afterId);
  }

  /** Opens an incident by hand (P3 right at least; a Pn incident needs the right to act at Pn). */
  async create(
    input: {
      title: string;
      severity: IncidentSeverity;
      component?: string;
      assignee?: string;
      procedureId?: string;
      situation?: string | null;
    },
    identity: Identity,
  ): Promise<IncidentRow> {
    // A null situation (JSON null, a GraphQL null) is no situation.
    const situation = input.situation ?? undefined;
    const problem =
      situation === undefined
        ? null
        : situationProblem(this.inventory, input.severity === 'P4' ? null : levelOf(input.severity), situation);
    if (problem) throw DomainError.validation([{ field: 'situation', problem }]);
    this.assertMayAct(identity, input.severity, input.component ?? null, 'open', situation);
    const now = this.clock.now();
    const incident = await this.dataSource.transaction((m) =>
      this.lifecycle.open(
        m,
        {
          title: input.title,
          severity: input.severity,
          component: input.component ?? null,
          source: 'manual',
          createdBy: identity.username,
          assignee: input.assignee ?? null,
          suggestedProcedure: input.procedureId ?? null,
          suggestedParameters: input.procedureId ? {} : null,
          situation: situation ?? null,
          message: `Opened by hand by ${identity.username}`,
        },
        now,
      ),
    );
    await this.afterChange(incident.id);
    return this.get(incident.id);
  }

  /**
   * The change of one incident under its row lock, with the rights check on the locked row.
   * `work` may answer what to do once the change is committed (the metrics count only what happened).
   */
  private async change(
    id: string,
    identity: Identity,
    verb: string,
    work: (m: EntityManager, incident: IncidentRow, now: Date) => Promise<(() => void) | void>,
  ): Promise<IncidentRow> {
    const now = this.clock.now();
    const committed = await this.dataSource.transaction(async (m) => {
      const incident = await lockIncident(m, id);
      if (!incident) throw new DomainError(ErrorCode.NotFound, `incident ${id} does not exist`, { incident: id });
      this.assertMayAct(identity, incident.severity, incident.component, verb, incident.policy.situation?.id);
      return work(m, incident, now);
    });
    committed?.();
    await this.afterChange(id);
    return this.get(id);
  }

  private async afterChange(id: string): Promise<void> {
    this.engine.kick();
    await this.engine.wakeForIncident(id).catch(() => undefined);
    await this.metrics.refreshOpen(this.dataSource).catch(() => undefined);
  }

  acknowledge(id: string, identity: Identity, via = 'api'): Promise<IncidentRow> {
    return this.change(id, identity, 'acknowledge', async (m, incident, now) => {
      if (incident.status !== 'triggered')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is ${incident.status}: only a triggered incident can be acknowledged`, {
          status: incident.status,
        });
      await this.lifecycle.acknowledge(m, incident, identity.username, now, via);
      return () => this.metrics.observeAcknowledged(incident, now);
    });
  }

  resolve(id: string, identity: Identity, note?: string): Promise<IncidentRow> {
    return this.change(id, identity, 'resolve', async (m, incident, now) => {
      if (incident.status === 'resolved')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is already resolved`, { status: incident.status });
      await this.lifecycle.resolve(m, incident, identity.username, now, `Resolved by ${identity.username}${note ? `: ${note}` : ''}`);
      return () => this.metrics.observeResolved(incident, now);
    });
  }

  reopen(id: string, identity: Identity, note?: string): Promise<IncidentRow> {
    return this.change(id, identity, 'reopen', async (m, incident, now) => {
      if (incident.status !== 'resolved')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is ${incident.status}, not resolved`, { status: incident.status });
      await this.lifecycle.reopen(m, incident, identity.username, now, `Reopened by ${identity.username}${note ? `: ${note}` : ''}`);
    });
  }

  escalate(id: string, identity: Identity): Promise<IncidentRow> {
    return this.change(id, identity, 'escalate', async (m, incident, now) => {
      if (incident.status !== 'triggered')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is ${incident.status}: only a triggered incident escalates`, {
          status: incident.status,
        });
      if (!incident.policy.escalates)
        throw new DomainError(ErrorCode.Conflict, `a ${incident.severity} incident never escalates`, { severity: incident.severity });
      await this.lifecycle.escalate(m, id, now, true, identity.username);
    });
  }

  note(id: string, identity: Identity, text: string): Promise<IncidentRow> {
    return this.change(id, identity, 'note', async (m, _incident, now) => {
      await addEvent(m, id, now, 'note', text, identity.username);
    });
  }

  statusUpdate(id: string, identity: Identity, text: string): Promise<IncidentRow> {
    return this.change(id, identity, 'status-update', async (m, incident, now) => {
      if (incident.status === 'resolved')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is resolved: status updates are for open incidents`, {});
      const every = incident.policy.statusUpdateSeconds;
      await m.query('UPDATE incidents SET last_status_update_at = $2, next_status_update_at = $3 WHERE id = $1', [
        id,
        now,
        every ? new Date(now.getTime() + every * 1000) : null,
      ]);
      await addEvent(m, id, now, 'status_update', text, identity.username);
    });
  }

  assign(id: string, identity: Identity, assignee: string): Promise<IncidentRow> {
    return this.change(id, identity, 'assign', async (m, incident, now) => {
      await m.query('UPDATE incidents SET assignee = $2, version = version + 1 WHERE id = $1', [id, assignee]);
      await addEvent(m, id, now, 'assigned', `Assigned to ${assignee} by ${identity.username}`, identity.username, {
        from: incident.assignee,
        to: assignee,
      });
    });
  }

  submitReport(id: string, identity: Identity, text: string): Promise<IncidentRow> {
    return this.change(id, identity, 'report', async (m, incident, now) => {
      if (incident.status !== 'resolved')
        throw new DomainError(ErrorCode.Conflict, `incident ${id} is ${incident.status}: the report follows the resolution`, {});
      await m.query('UPDATE incidents SET report = $2, report_submitted_at = $3 WHERE id = $1', [id, text, now]);
      const late = incident.report_due_at && incident.report_due_at < now;
      await addEvent(
        m,
        id,
        now,
        'report_submitted',
        `Incident report submitted by ${identity.username}${late ? ' (late)' : ''}`,
        identity.username,
      );
    });
  }

  /** Links a run (already requested by the caller through the runner) to the incident. */
  async linkRun(id: string, run: { id: string; procedureId: string; status: string; dryRun: boolean }, identity: Identity): Promise<void> {
    const now = this.clock.now();
    await this.dataSource.transaction(async (m) => {
      await m.query(
        'INSERT INTO incident_runs (run_id, incident_id, procedure_id, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [run.id, id, run.procedureId, identity.username, now],
      );
      await addEvent(
        m,
        id,
        now,
        'run_requested',
        `${identity.username} requested ${run.dryRun ? 'a dry run of ' : ''}${run.procedureId} (run ${run.id})`,
        identity.username,
        {
          runId: run.id,
          procedureId: run.procedureId,
          dryRun: run.dryRun,
          status: run.status,
        },
      );
    });
    this.engine.kick();
  }

  /** Refuses a principal without the right to act at the incident's level: 403 naming whom to call. */
  assertMayAct(identity: Identity, severity: IncidentSeverity, component: string | null, verb: string, situation?: string): void {
    const level = levelOf(severity);
    const domain = component === 'database' ? 'database' : 'system';
    if (identity.role !== 'service' && roleHasLevel(identity.role, level, domain)) return;
    const escalation = escalationOf(this.inventory, level, situation);
    const now = this.clock.now();
    const onCall = contactsOf(this.inventory.incidents, level, now, this.inventory.notifications, this.inventory.timezone).map(
      (c) => `${c.name}${c.phone ? ` (${c.phone})` : ''}`,
    );
    const call = [...onCall, ...escalation.contacts];
    throw new DomainError(
      ErrorCode.Forbidden,
      `${identity.role} may not ${verb} a ${severity} ${domain} incident${escalation.situation ? ` (${escalation.situation})` : ''}; call ${call.join(', ')} (response within ${escalation.responseMinutes} min)`,
      {
        level,
        domain,
        yourRole: identity.role,
        rolesWithRight: ROLES.filter((r) => roleHasLevel(r, level, domain)),
        escalateTo: call,
        ...(escalation.situation ? { situation: escalation.situation } : {}),
        responseMinutes: escalation.responseMinutes,
      },
    );
  }

  /** The link's target, if its token is genuine (the HMAC), before anything is changed. */
  private async linkOf(
    token: string,
  ): Promise<{ id: string; incident_id: string; person: string; username: string; expires_at: Date; used_at: Date | null }> {
    // Exactly `<link id>.<HMAC>`: anything more or less (an extra part, a cut HMAC) is an altered link.
    const shape = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (shape) {
      const [, linkId, mac] = shape;
      const expected = Buffer.from(this.lifecycle.linkToken(linkId).split('.')[1]);
      const given = Buffer.from(mac);
      if (expected.length === given.length && timingSafeEqual(expected, given)) {
        const rows = await this.dataSource.query('SELECT * FROM incident_ack_links WHERE id = $1', [linkId]);
        if (rows[0]) return rows[0];
      }
    }
    throw linkRefused('is not valid (altered or unknown)');
  }

  /** What the link would do (GET: shown, nothing changed). */
  async describeLink(token: string): Promise<{ incident: IncidentRow; username: string; expiresAt: Date; usable: string | null }> {
    const link = await this.linkOf(token);
    const incident = await this.get(link.incident_id);
    const now = this.clock.now();
    const usable = link.used_at
      ? 'has already been used'
      : link.expires_at <= now
        ? 'has expired'
        : incident.status !== 'triggered'
          ? `is moot: the incident is ${incident.status}`
          : null;
    return { incident, username: link.username, expiresAt: link.expires_at, usable };
  }

  /** Acknowledges as the link's person: once, before it expires, with that person's rights (audited as them). */
  async acknowledgeByLink(token: string): Promise<IncidentRow> {
    const link = await this.linkOf(token);
    const users: { id: string; username: string; role: Role; disabled: boolean }[] = await this.dataSource.query(
      'SELECT id, username, role, disabled FROM users WHERE username = $1',
      [link.username],
    );
    const user = users[0];
    if (!user || user.disabled)
      throw new DomainError(ErrorCode.Forbidden, `${link.username} is not an active user of the control plane`, {});
    const identity: Identity = { kind: 'user', id: user.id, username: user.username, role: user.role, userId: user.id };
    const now = this.clock.now();
    let incident: IncidentRow | undefined;
    try {
      await this.dataSource.transaction(async (m) => {
        const used = await updated(
          m,
          'UPDATE incident_ack_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING id',
          [link.id, now],
        );
        if (!used.length) throw linkRefused(link.used_at ? 'has already been used' : 'has expired');
        const locked = await lockIncident(m, link.incident_id);
        if (!locked) throw new DomainError(ErrorCode.NotFound, `incident ${link.incident_id} does not exist`, {});
        this.assertMayAct(identity, locked.severity, locked.component, 'acknowledge', locked.policy.situation?.id);
        if (locked.status !== 'triggered')
          throw new DomainError(ErrorCode.Conflict, `incident ${locked.id} is ${locked.status}: nothing to acknowledge`, {
            status: locked.status,
          });
        await this.lifecycle.acknowledge(m, locked, user.username, now, 'one-click link');
        incident = locked;
      });
      this.metrics.observeAcknowledged(incident!, now);
      await this.audit.recordSafely({
        actor: identity,
        action: 'incidents.acknowledge',
        target: `incident:${link.incident_id}`,
        parameters: { via: 'link' },
        outcome: 'success',
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      await this.audit.recordSafely({
        actor: identity,
        action: 'incidents.acknowledge',
        target: `incident:${link.incident_id}`,
        parameters: { via: 'link' },
        outcome: code === ErrorCode.Forbidden ? 'denied' : 'failure',
        errorCode: code ?? 'ERROR',
      });
      throw error;
    }
    await this.afterChange(incident!.id);
    return this.get(incident!.id);
  }

  /** On call now and next, per level; and what is wrong with the set-up (contacts nobody can reach, hours nobody is on call). */
  oncall(at = this.clock.now()) {
    const section = this.inventory.incidents;
    const timeZone = this.inventory.timezone;
    const levels = (['P1', 'P2', 'P3'] as Level[]).map((level) => ({
      level,
      responseMinutes: this.inventory.escalation[level].responseMinutes,
      now: contactsOf(section, level, at, this.inventory.notifications, timeZone),
      rotations: section.levels[level]
        .filter((c) => c.startsWith('rotation:'))
        .map((c) => {
          const rotation = section.rotations.find((r) => r.id === c.slice('rotation:'.length))!;
          return { id: rotation.id, ...rotationNowNext(rotation, at, timeZone) };
        }),
    }));
    return { at, timezone: timeZone, levels, problems: oncallProblems(this.inventory, at) };
  }
}

/**
 * Whose turn it is on the rotation and whose is next (null before the rotation starts), and
 * whether the rotation is on call now (within its hours, or an override).
 */
function rotationNowNext(rotation: IncidentRotation, at: Date, timeZone: string) {
  const now = onCallAt(rotation, at, timeZone);
  const next = onCallAt(rotation, new Date(now.to.getTime() + 1), timeZone);
  return {
    now: now.person,
    until: now.to,
    next: next.person,
    nextUntil: next.to,
    override: now.override,
    onCallNow: rotationOnCall(rotation, at, timeZone) !== null,
    hours: rotation.hours ?? null,
  };
}
