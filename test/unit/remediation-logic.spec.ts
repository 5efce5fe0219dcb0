import { describe, it } from 'node:test';
import { expect } from 'expect';
import { environmentSecrets, maskCredentialsInText, maskLogLines, maskSecrets } from '../../src/common/secrets';
import { silencesEverything } from '../../src/modules/remediations/procedures/alerts-storm';
import { remediationForAlert, remediationForCheck } from '../../src/procedures/suggestions';

describe('remediations: pure logic', () => {
  it('masks credentials wherever they appear in text, even in URLs new URL() cannot parse', () => {
    expect(maskCredentialsInText("Could not parse SQLAlchemy URL from string 'postgresql://erp:s3cr3t@db:5432/erp'")).toBe(
      "Could not parse SQLAlchemy URL from string 'postgresql://erp:****@db:5432/erp'",
    );
    expect(maskCredentialsInText('postgresql://u:pa/ss@db/x')).toBe('postgresql://u:****@db/x');
    expect(maskCredentialsInText('postgresql://u:p#ss@db/x')).toBe('postgresql://u:****@db/x');
    expect(maskCredentialsInText("host=db password='a b' dbname=x")).toBe('host=db password=**** dbname=x');
    expect(maskCredentialsInText('GET /health 200 from 10.0.0.1 user@example.com')).toBe('GET /health 200 from 10.0.0.1 user@example.com');
    expect(maskSecrets({ logs: ['connecting to postgres://erp:hunter2@db/erp failed'] })).toEqual({
      logs: ['connecting to postgres://erp:****@db/erp failed'],
    });
  });

  it("blanks a container's secret environment values out of its log lines", () => {
    const secrets = environmentSecrets({
      DATABASE_URL: 'postgresql://erp:p%40ss@db/erp',
      JWT_SECRET: 'abcdef123',
      PORT: '8000',
      LANG: 'C.UTF-8',
    });
    expect(secrets).toEqual(expect.arrayContaining(['abcdef123', 'p%40ss', 'p@ss']));
    expect(secrets).not.toContain('8000');
    expect(maskLogLines(['token abcdef123 rejected', 'login with p@ss failed', 'listening on 8000'], secrets)).toEqual([
      'token **** rejected',
      'login with **** failed',
      'listening on 8000',
    ]);
  });

  it('judges "silences everything" from the matchers\' text alone, never running a user\'s regex', () => {
    const m = (name: string, value: string, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });
    expect(silencesEverything([])).toBe(true);
    expect(silencesEverything([m('alertname', '.*', true)])).toBe(true);
    expect(silencesEverything([m('alertname', '.+', true), m('zz', '')])).toBe(true);
    expect(silencesEverything([m('alertname', '[A-Z].*', true)])).toBe(true);
    expect(silencesEverything([m('alertname', 'H?igh', true)])).toBe(true);
    expect(silencesEverything([m('alertname', 'High|.*', true)])).toBe(true);
    expect(silencesEverything([m('alertname', 'HighCPUUsage', false, false)])).toBe(true);
    expect(silencesEverything([m('alertname', '(?:(?:a|a)*b)|.*', true)])).toBe(true);
    expect(silencesEverything([m('alertname', 'HighCPUUsage')])).toBe(false);
    expect(silencesEverything([m('alertname', 'High.*', true)])).toBe(false);
    expect(silencesEverything([m('alertname', '.*', true), m('instance', 'db:9100')])).toBe(false);
  });

  it('links failing checks and known alerts to their procedures', () => {
    expect(remediationForCheck('db:connections')).toBe('db.connection-pool-exhausted');
    expect(remediationForCheck('service:backend')).toBe('backend.crash-loop');
    expect(remediationForCheck('backup:fresh')).toBe('backup.create');
    expect(remediationForCheck('backup:size')).toBe('backup.verify');
    expect(remediationForCheck('host:identity')).toBeUndefined();
    expect(remediationForCheck('service:redis')).toBe('emergency.outage');
    expect(remediationForCheck('metric:disk:/var/lib/docker')).toBe('disk.cleanup');
    expect(remediationForCheck('logs:flowing')).toBe('logs.elasticsearch-ingest');
    expect(remediationForCheck('db:count:products')).toBe('emergency.data-corruption');
    expect(remediationForCheck('grafana:health')).toBeUndefined();
    expect(remediationForAlert('DBConnectionPoolExhausted')).toBe('db.connection-pool-exhausted');
    expect(remediationForAlert('TooManyAlerts')).toBe('alerts.storm');
    expect(remediationForAlert('APIServiceDown')).toBe('backend.crash-loop');
    expect(remediationForAlert('NoSuchAlert')).toBeUndefined();
  });
});
