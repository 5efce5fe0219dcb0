import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { dump as dumpYaml, load as loadYaml } from 'js-yaml';
import { projectRoot } from '../../src/common/paths';
import { InventoryError, parseInventory } from '../../src/config/inventory.loader';
import { Inventory } from '../../src/config/inventory.schema';
import { contactsOf, Level, onCallAt } from '../../src/modules/incidents/oncall';
import { oncallProblems } from '../../src/modules/incidents/oncall-problems';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];
const NOT_REACHABLE = 'no chat webhook or e-mail server configured for its people, or a rotation member without a reachable channel';

/**
 * The example inventory with a chat webhook and an SMTP server (everyone with a handle or an
 * e-mail is reachable), its incidents section changed by `patch`. 2026-12-07 is a Monday.
 */
function inventory(patch: (doc: Record<string, any>) => void = () => undefined): Inventory {
  const file = join(projectRoot(), 'ops.example.yaml');
  const doc = loadYaml(readFileSync(file, 'utf8')) as Record<string, any>;
  doc.notifications.chatWebhookUrl = 'http://127.0.0.1:9/hook';
  doc.notifications.smtpUrl = 'smtp://127.0.0.1:2525';
  patch(doc);
  return parseInventory(dumpYaml(doc), file, {});
}

const rotation = (doc: Record<string, any>, id: string) => doc.incidents.rotations.find((r: { id: string }) => r.id === id);
const paged = (inv: Inventory, level: Level, at: string) =>
  contactsOf(inv.incidents, level, new Date(at), inv.notifications, inv.timezone).map((c) => c.id);
const problemsOf = (inv: Inventory, level: Level, now: string) =>
  oncallProblems(inv, new Date(now)).filter((p) => p.startsWith(`level ${level}`));

describe('on-call hours: who is paged when', () => {
  it('a rotation without hours covers every hour, and the example and stand-in inventories have no gap', () => {
    const inv = inventory();
    expect(paged(inv, 'P3', '2026-12-12T03:00:00+07:00')).toEqual(['sari']);
    expect(oncallProblems(inv, new Date('2026-12-07T10:00:00Z'))).toEqual([]);
    const file = join(projectRoot(), 'stack/ops.stack.yaml');
    const stand = parseInventory(readFileSync(file, 'utf8'), file, {});
    expect(oncallProblems(stand, new Date('2026-12-07T10:00:00Z')).filter((p) => p.includes('nobody'))).toEqual([]);
  });

  it('pages a weekday rotation from 08:00 to 16:59 and reports the rest of the week, to the minute', () => {
    const inv = inventory((doc) => (rotation(doc, 'support').hours = [{ days: WEEKDAYS, from: '08:00', to: '17:00' }]));
    expect(paged(inv, 'P3', '2026-12-07T07:59:59.999+07:00')).toEqual([]);
    expect(paged(inv, 'P3', '2026-12-07T08:00:00+07:00')).toEqual(['sari']);
    expect(paged(inv, 'P3', '2026-12-07T16:59:59.999+07:00')).toEqual(['sari']);
    expect(paged(inv, 'P3', '2026-12-07T17:00:00+07:00')).toEqual([]);
    expect(paged(inv, 'P3', '2026-12-12T10:00:00+07:00')).toEqual([]);
    expect(problemsOf(inv, 'P3', '2026-12-07T10:00:00Z')).toEqual([
      'level P3 has nobody on call every week Mon 17:00–Tue 08:00, Tue 17:00–Wed 08:00, Wed 17:00–Thu 08:00, Thu 17:00–Fri 08:00, Fri 17:00–Mon 08:00 (Asia/Jakarta)',
    ]);
  });

  it('a night rotation runs past midnight (Sunday night into Monday morning) and the day rotation meets it: no gap', () => {
    const inv = inventory((doc) => {
      doc.incidents.rotations.push({ id: 'night', members: ['budi'], start: '2026-01-05T09:00:00+07:00' });
      rotation(doc, 'support').hours = [{ days: [...WEEKDAYS, 'sat', 'sun'], from: '08:00', to: '20:00' }];
      rotation(doc, 'night').hours = [{ days: [...WEEKDAYS, 'sat', 'sun'], from: '20:00', to: '08:00' }];
      doc.incidents.levels.P3 = ['rotation:support', 'rotation:night'];
    });
    expect(paged(inv, 'P3', '2026-12-14T07:59:00+07:00')).toEqual(['budi']); // Monday morning: Sunday's night
    expect(paged(inv, 'P3', '2026-12-14T08:00:00+07:00')).toEqual(['sari']);
    expect(paged(inv, 'P3', '2026-12-13T19:59:59+07:00')).toEqual(['sari']);
    expect(paged(inv, 'P3', '2026-12-13T20:00:00+07:00')).toEqual(['budi']);
    expect(oncallProblems(inv, new Date('2026-12-07T10:00:00Z'))).toEqual([]);
  });

  it('a night shift starting one minute late leaves a one-minute gap every day, reported exactly', () => {
    const inv = inventory((doc) => {
      doc.incidents.rotations.push({ id: 'night', members: ['budi'], hours: [{ days: ['fri', 'sun'], from: '20:01', to: '08:00' }] });
      rotation(doc, 'support').hours = [{ days: ['fri', 'sun'], from: '08:00', to: '20:00' }];
      doc.incidents.levels.P3 = ['rotation:support', 'rotation:night'];
    });
    expect(paged(inv, 'P3', '2026-12-11T20:00:30+07:00')).toEqual([]);
    expect(paged(inv, 'P3', '2026-12-11T20:01:00+07:00')).toEqual(['budi']);
    expect(problemsOf(inv, 'P3', '2026-12-07T10:00:00Z')).toEqual([
      'level P3 has nobody on call every week Mon 08:00–Fri 08:00, Fri 20:00–Fri 20:01, Sat 08:00–Sun 08:00, Sun 20:00–Sun 20:01 (Asia/Jakarta)',
    ]);
  });

  it('reads hours in the inventory’s own zone, with its daylight-saving changes (America/New_York)', () => {
    const inv = inventory((doc) => {
      doc.timezone = 'America/New_York';
      doc.incidents.rotations.push({
        id: 'night',
        members: ['budi'],
        hours: [{ days: [...WEEKDAYS, 'sat', 'sun'], from: '18:00', to: '09:00' }],
      });
      rotation(doc, 'support').hours = [{ days: [...WEEKDAYS, 'sat', 'sun'], from: '09:00', to: '18:00' }];
      doc.incidents.levels.P3 = ['rotation:support', 'rotation:night'];
    });
    // 09:00 is 14:00 UTC in winter (EST) and 13:00 UTC once the clocks went forward on 2026-03-08 (EDT).
    expect(paged(inv, 'P3', '2026-03-06T13:59:00Z')).toEqual(['budi']);
    expect(paged(inv, 'P3', '2026-03-06T14:00:00Z')).toEqual(['sari']);
    expect(paged(inv, 'P3', '2026-03-09T12:59:00Z')).toEqual(['budi']);
    expect(paged(inv, 'P3', '2026-03-09T13:00:00Z')).toEqual(['sari']);
    // Scanning weeks across the change finds no hole and no overlap to report.
    expect(oncallProblems(inv, new Date('2026-03-01T00:00:00Z'))).toEqual([]);
    const gap = inventory((doc) => {
      doc.timezone = 'America/New_York';
      rotation(doc, 'support').hours = [{ days: ['sat'], from: '00:00', to: '24:00' }];
    });
    expect(problemsOf(gap, 'P3', '2026-03-01T00:00:00Z')).toEqual([
      'level P3 has nobody on call every week Sun 00:00–Sat 00:00 (America/New_York)',
    ]);
  });

  it('an override to a person without a reachable channel is reported as its dated period, and an override covers outside the hours', () => {
    const inv = inventory((doc) => {
      doc.notifications.smtpUrl = ''; // dewi has only an e-mail: nobody can reach her
      rotation(doc, 'support').overrides = [
        { person: 'dewi', from: '2026-12-24T00:00:00+07:00', to: '2026-12-27T00:00:00+07:00' },
        { person: 'budi', from: '2027-01-02T00:00:00+07:00', to: '2027-01-03T00:00:00+07:00' },
      ];
    });
    expect(paged(inv, 'P3', '2026-12-25T03:00:00+07:00')).toEqual(['dewi']);
    expect(problemsOf(inv, 'P3', '2026-12-07T10:00:00Z')).toEqual([
      'level P3 has nobody on call 2026-12-24 00:00–2026-12-27 00:00 (Asia/Jakarta): rotation support is handed to dewi by an override (2026-12-24 00:00–2026-12-27 00:00), and dewi has no reachable channel',
    ]);
    const hours = inventory((doc) => {
      rotation(doc, 'support').hours = [{ days: WEEKDAYS, from: '08:00', to: '17:00' }];
      rotation(doc, 'support').overrides = [{ person: 'budi', from: '2026-12-12T00:00:00+07:00', to: '2026-12-13T00:00:00+07:00' }];
    });
    expect(paged(hours, 'P3', '2026-12-12T03:00:00+07:00')).toEqual(['budi']); // a Saturday night, by the override
    expect(paged(hours, 'P3', '2026-12-13T03:00:00+07:00')).toEqual([]);
    expect(problemsOf(hours, 'P3', '2026-12-07T10:00:00Z')).toHaveLength(1); // the weekly gap, no dated one
  });

  it('a dated gap runs from the end of the hours before it to the start of the hours after it, across a change of clocks', () => {
    const jakarta = inventory((doc) => {
      doc.notifications.smtpUrl = '';
      rotation(doc, 'support').hours = [{ days: WEEKDAYS, from: '08:00', to: '17:00' }];
      rotation(doc, 'support').overrides = [{ person: 'dewi', from: '2026-12-24T00:00:00+07:00', to: '2026-12-27T00:00:00+07:00' }];
    });
    expect(problemsOf(jakarta, 'P3', '2026-12-07T10:00:00Z')).toContain(
      'level P3 has nobody on call 2026-12-23 17:00–2026-12-28 08:00 (Asia/Jakarta): rotation support is handed to dewi by an override (2026-12-24 00:00–2026-12-27 00:00), and dewi has no reachable channel',
    );
    // New York: joko's turn (Saturday noon to Saturday noon) spans the change to summer time on Sunday 2026-03-08.
    const york = inventory((doc) => {
      doc.timezone = 'America/New_York';
      doc.incidents.people.push({ id: 'joko', name: 'Joko', phone: '+62 811 000 0009' });
      Object.assign(rotation(doc, 'support'), {
        members: ['sari', 'joko'],
        start: '2026-02-21T12:00:00-05:00',
        hours: [{ days: WEEKDAYS, from: '09:00', to: '17:00' }],
      });
    });
    expect(problemsOf(york, 'P3', '2026-02-23T00:00:00Z')).toContain(
      "level P3 has nobody on call 2026-02-27 17:00–2026-03-09 09:00 (America/New_York): it is joko's turn on rotation support, and joko has no reachable channel",
    );
  });

  it('a member without a channel leaves their weeks uncovered: each turn is reported with its dates', () => {
    const inv = inventory((doc) => {
      doc.incidents.people.push({ id: 'joko', name: 'Joko', phone: '+62 811 000 0009' });
      rotation(doc, 'senior-dev').members = ['budi', 'joko'];
    });
    expect(paged(inv, 'P2', '2026-12-15T10:00:00+07:00')).toEqual(['joko']);
    expect(problemsOf(inv, 'P2', '2026-12-07T10:00:00Z')).toEqual([
      `level P2 (rotation:senior-dev) has nobody reachable at every hour: ${NOT_REACHABLE}`,
      'level P2: rotation senior-dev member joko has no reachable channel, so nobody is reachable during their weeks',
      "level P2 has nobody on call 2026-12-14 09:00–2026-12-21 09:00 (Asia/Jakarta): it is joko's turn on rotation senior-dev, and joko has no reachable channel",
      "level P2 has nobody on call 2026-12-28 09:00–2027-01-04 09:00 (Asia/Jakarta): it is joko's turn on rotation senior-dev, and joko has no reachable channel",
    ]);
    // P1 also pages dewi directly: covered at every hour.
    expect(problemsOf(inv, 'P1', '2026-12-07T10:00:00Z')).toEqual([
      'level P1: rotation senior-dev member joko has no reachable channel, so nobody is reachable during their weeks',
    ]);
  });

  it('hands over on the weekday and wall-clock time of start, across changes of clocks, in turns that meet', () => {
    const inv = inventory((doc) => {
      doc.timezone = 'America/New_York';
      Object.assign(rotation(doc, 'senior-dev'), { members: ['budi', 'rina'], start: '2026-03-02T09:00:00-05:00' });
      doc.incidents.rotations.push({ id: 'late', members: ['budi', 'rina'], start: '2026-10-25T01:30:00-04:00' });
    });
    const senior = inv.incidents.rotations.find((r) => r.id === 'senior-dev')!;
    const turn = (r: typeof senior, at: string) => onCallAt(r, new Date(at), inv.timezone);
    // Summer time from Sunday 2026-03-08: Monday 09:00 is 13:00 UTC, no longer 14:00.
    expect(turn(senior, '2026-03-09T12:59:00Z')).toMatchObject({ person: 'budi', to: new Date('2026-03-09T13:00:00Z') });
    expect(turn(senior, '2026-03-09T13:00:00Z')).toMatchObject({ person: 'rina', from: new Date('2026-03-09T13:00:00Z') });
    // Every instant lies in its own turn, and turns meet, through both changes (01:30 happens twice on 2026-11-01).
    const late = inv.incidents.rotations.find((r) => r.id === 'late')!;
    for (const [r, from, to] of [
      [senior, '2026-03-01T00:00:00Z', '2026-03-24T00:00:00Z'],
      [late, '2026-10-25T06:00:00Z', '2026-11-16T00:00:00Z'],
    ] as const) {
      for (let t = Date.parse(from); t < Date.parse(to); t += 15 * 60_000) {
        const now = onCallAt(r, new Date(t), inv.timezone);
        expect([now.from.getTime() <= t, t < now.to.getTime()]).toEqual([true, true]);
        expect(onCallAt(r, now.to, inv.timezone).from).toEqual(now.to);
        expect(onCallAt(r, now.to, inv.timezone).person).not.toBe(now.person);
      }
    }
  });

  it('a rotation that starts later has nobody on call before its start, reported from now', () => {
    const inv = inventory((doc) => (rotation(doc, 'support').start = '2026-12-14T09:00:00+07:00'));
    expect(
      onCallAt(
        inv.incidents.rotations.find((r) => r.id === 'support')!,
        new Date('2026-12-10T00:00:00Z'),
        inv.timezone,
      ).person,
    ).toBeNull();
    expect(paged(inv, 'P3', '2026-12-14T08:59:00+07:00')).toEqual([]);
    expect(paged(inv, 'P3', '2026-12-14T09:00:00+07:00')).toEqual(['sari']);
    expect(problemsOf(inv, 'P3', '2026-12-07T10:00:00Z')).toEqual([
      'level P3 has nobody on call now (2026-12-07 17:00)–2026-12-14 09:00 (Asia/Jakarta): rotation support starts 2026-12-14 09:00',
    ]);
  });

  it('team covers every hour when a channel exists, and only then', () => {
    const withTeam = (chat: string) =>
      inventory((doc) => {
        doc.notifications.chatWebhookUrl = chat;
        doc.notifications.smtpUrl = '';
        rotation(doc, 'support').hours = [{ days: WEEKDAYS, from: '08:00', to: '17:00' }];
        doc.incidents.levels.P3 = ['rotation:support', 'team'];
      });
    const covered = withTeam('http://127.0.0.1:9/hook');
    expect(paged(covered, 'P3', '2026-12-12T03:00:00+07:00')).toEqual(['team']);
    expect(problemsOf(covered, 'P3', '2026-12-07T10:00:00Z')).toEqual([]);
    expect(problemsOf(withTeam(''), 'P3', '2026-12-07T10:00:00Z')).toEqual([
      `level P3 (rotation:support, team) has nobody reachable at every hour: ${NOT_REACHABLE}`,
      'level P3: rotation support member sari has no reachable channel, so nobody is reachable during their weeks',
    ]);
  });

  it('refuses bad hours, naming the path of each problem', () => {
    const bad = (hours: unknown) => {
      try {
        inventory((doc) => (rotation(doc, 'support').hours = hours));
      } catch (error) {
        expect(error).toBeInstanceOf(InventoryError);
        return (error as InventoryError).problems;
      }
      throw new Error('accepted');
    };
    const at = 'incidents.rotations.1.hours';
    expect(bad([{ days: ['monday', 'fri'], from: '8:00', to: '17:00' }])).toEqual([
      `${at}.0.days.0: must be a day: mon, tue, wed, thu, fri, sat or sun (got "monday")`,
      `${at}.0.from: must be a time of day HH:MM, for example 08:00 (got "8:00")`,
    ]);
    expect(bad([{ days: ['sat'], from: '24:00', to: '24:60' }])).toEqual([
      `${at}.0.from: must be a time of day HH:MM, for example 08:00 (got "24:00")`,
      `${at}.0.to: must be a time of day HH:MM, for example 17:00 (or 24:00 for the end of the day) (got "24:60")`,
    ]);
    expect(bad([{ days: ['sat'], from: '08:00', to: '08:00' }])).toEqual([
      `${at}.0.to: must not equal from: a window 22:00 to 06:00 runs overnight into the next day; a whole day is 00:00 to 24:00 (got "08:00")`,
    ]);
    expect(bad([{ days: ['sat', 'sat'], from: '08:00', to: '17:00' }])).toEqual([
      `${at}.0.days: each day must be listed once (got "[\\"sat\\",\\"sat\\"]")`,
    ]);
    expect(bad([{ days: [], from: '08:00', to: '17:00', tz: 'UTC' }])).toEqual([
      `${at}.0.days: must name at least one day, for example [mon, tue, wed, thu, fri] (got "[]")`,
      `${at}.0: unknown key(s) "tz"; see ops.example.yaml for the allowed keys`,
    ]);
    expect(bad([])).toEqual([`${at}: must list at least one window; leave hours out for a rotation on call at all hours (got "[]")`]);
  });
});
