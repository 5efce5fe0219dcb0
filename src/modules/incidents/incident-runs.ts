import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { Identity } from '../../common/request-context';
import { Role } from '../../common/rights';
import { FINISHED } from '../../procedures/run.entity';
import { RunnerService } from '../../procedures/runner.service';
import { EscalationEngine } from './escalation.engine';
import { addEvent, updated } from './incident-store';

/** Who computes an incident's dry-run plan (a dry run changes nothing; the runner records it). */
export const INCIDENTS_IDENTITY: Identity = { kind: 'system', id: 'incidents', username: 'incidents', role: Role.Admin, userId: null };

/**
 * The procedures' side of incidents, on every pass of the engine: the suggested procedure's
 * dry-run plan of a new incident (what exactly would be touched), and the end of each run
 * started from an incident, into its timeline.
 */
@Injectable()
export class IncidentRuns implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly runner: RunnerService,
    private readonly engine: EscalationEngine,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.engine.onTick.push(
      () => this.computePlans(),
      () => this.trackRuns(),
    );
  }

  /** Claims incidents without a plan one at a time (SKIP LOCKED: one replica computes each) and dry-runs their procedure. */
  async computePlans(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const claimed: { id: string; suggested_procedure: string; suggested_parameters: Record<string, unknown> | null }[] = await updated(
        this.dataSource,
        `UPDATE incidents SET plan = '{"status": "computing"}'::jsonb
           WHERE id = (SELECT id FROM incidents WHERE suggested_procedure IS NOT NULL AND plan IS NULL ORDER BY created_at LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED)
           RETURNING id, suggested_procedure, suggested_parameters`,
      );
      const incident = claimed[0];
      if (!incident) return;
      let plan: Record<string, unknown>;
      let runId: string | null = null;
      try {
        const run = await this.runner.request(
          incident.suggested_procedure,
          { dryRun: true, parameters: incident.suggested_parameters ?? {} },
          INCIDENTS_IDENTITY,
        );
        runId = run.id;
        plan = {
          status: run.status,
          procedureId: run.procedureId,
          runId: run.id,
          steps: run.steps.map((s) => ({ id: s.stepId, title: s.title, status: s.status, plan: s.plan, error: s.error })),
          error: run.error,
        };
      } catch (error) {
        plan = { status: 'unavailable', procedureId: incident.suggested_procedure, error: (error as Error).message };
      }
      const now = this.clock.now();
      await this.dataSource.transaction(async (m) => {
        await m.query('UPDATE incidents SET plan = $2, plan_run_id = $3 WHERE id = $1', [incident.id, JSON.stringify(plan), runId]);
        await addEvent(
          m,
          incident.id,
          now,
          'plan_computed',
          plan.status === 'unavailable'
            ? `No dry-run plan for ${incident.suggested_procedure}: ${String(plan.error)}`
            : `Dry run of ${incident.suggested_procedure} (run ${runId}): ${plan.status}`,
          'incidents',
          { runId, procedureId: incident.suggested_procedure },
        );
      });
    }
  }

  /** Each run started from an incident that has ended since the last pass: its outcome into the timeline, once. */
  async trackRuns(): Promise<void> {
    const open: { run_id: string; incident_id: string; procedure_id: string }[] = await this.dataSource.query(
      'SELECT run_id, incident_id, procedure_id FROM incident_runs WHERE ended_at IS NULL ORDER BY requested_at LIMIT 100',
    );
    for (const row of open) {
      const run = await this.runner.get(row.run_id).catch(() => undefined);
      if (!run || !FINISHED.includes(run.status)) continue;
      const now = this.clock.now();
      await this.dataSource.transaction(async (m) => {
        const ended = await updated(
          m,
          'UPDATE incident_runs SET ended_status = $2, ended_at = $3 WHERE run_id = $1 AND ended_at IS NULL RETURNING run_id',
          [row.run_id, run.status, now],
        );
        if (!ended.length) return;
        await addEvent(
          m,
          row.incident_id,
          now,
          'run_ended',
          `Run ${row.run_id} of ${row.procedure_id} ended ${run.status}${run.error ? `: ${run.error}` : ''}`,
          null,
          { runId: row.run_id, procedureId: row.procedure_id, status: run.status, error: run.error },
        );
      });
    }
  }
}
