/**
 * The import rules of the house (docs/ARCHITECTURE.md draws them). `npm run lint` and the
 * static-checks test run dependency-cruiser with this file; a wrong import fails with the
 * name of the rule it breaks and the comment below it.
 *
 * Imports point one way, down this stack (a layer may import itself and anything below it):
 *
 *   transport   src/guards, src/interceptors, src/http, src/graphql, src/cli, src/app.*.ts, src/main.ts
 *               (and, inside the folders below, the controllers, resolvers and DTOs)
 *   features    src/modules/<feature>/  (talk to each other only through a *.service.ts,
 *               a *.module.ts or the feature's public.ts)
 *   runner      src/procedures/  (runs every procedure; also holds which procedure fixes which
 *               alert or check, read by alerts and health)
 *   audit       src/audit/  (the runner and the guards record audit entries, so it sits below both)
 *   infra       src/infra/  (the control plane's own database, Redis, metrics registry)
 *   adapters    src/integrations/<system>/  (the only code that talks to the ERP stack)
 *   foundation  src/common/ (errors, clock, ids, units, request context and identity, the rights
 *               vocabulary in common/rights.ts) and src/config/ (environment, inventory, master key)
 *
 * Cross-cutting pieces: identity lives in common/request-context.ts, the rights vocabulary
 * (roles, rights, the escalation matrix) in common/rights.ts, the `@Right` decorator that
 * routes carry in guards/ (transport), the Clock and errors in common/.
 */

const FOUNDATION = '^src/(common|config)/';
const TRANSPORT = ['^src/(guards|interceptors|http|graphql|cli)/', '^src/(app\\.[^/]+|main)\\.ts$'];
const BELOW_TRANSPORT = '^src/(common|config|integrations|infra|audit|procedures|modules)/';
/** Controllers, resolvers and DTOs are transport even where they sit inside a lower folder. */
const ROUTE_FILES = ['\\.(controller|resolver|dto)\\.ts$', '/dto/'];
/** What one feature may import from another: its services, its Nest module and its public.ts. */
const FEATURE_PUBLIC_FILES = ['\\.(service|module)\\.ts$', '/public\\.ts$'];

/**
 * Known violations allowed for now, each with the move that removes it (the files are being
 * reworked elsewhere on issue 13). Each one exempts one import edge only: the rule still holds
 * for every other import of the same file. Remove an entry as soon as its move has landed.
 * In `from`, keep the rule's capture group (the feature folder in parentheses): the rule's
 * `$1` refers to it.
 */
const TEMPORARY_EXCEPTIONS = {
  // None left: issue 13's moves have all landed.
};

/** A rule, plus one narrower copy per temporary exception that checks the exempted file against everything else. */
function withExceptions(rule) {
  const exceptions = TEMPORARY_EXCEPTIONS[rule.name] ?? [];
  if (exceptions.length === 0) return [rule];
  const asList = (value) => (value === undefined ? [] : [].concat(value));
  const main = { ...rule, from: { ...rule.from, pathNot: [...asList(rule.from.pathNot), ...exceptions.map((e) => e.from)] } };
  const narrowed = exceptions.map((e) => ({
    ...rule,
    from: { ...rule.from, path: e.from },
    to: { ...rule.to, pathNot: [...asList(rule.to.pathNot), e.to] },
  }));
  return [main, ...narrowed];
}

const rules = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'A cycle means two files depend on each other: move the part both need down a layer.',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'foundation-imports-only-foundation',
    severity: 'error',
    comment:
      'src/common and src/config are the bottom layer: everything may use them, they use nothing above them. ' +
      'Move the piece you need down into common/ or config/, or pass it in as a parameter.',
    from: { path: FOUNDATION },
    to: { path: '^src/', pathNot: FOUNDATION },
  },
  {
    name: 'adapters-import-only-the-foundation',
    severity: 'error',
    comment:
      'src/integrations holds one adapter per outside system; an adapter knows config and common, never the ' +
      "control plane's own infra, the runner or a feature. Return typed results and let the caller decide.",
    from: { path: '^src/integrations/' },
    to: { path: '^src/', pathNot: [FOUNDATION, '^src/integrations/'] },
  },
  {
    name: 'infra-below-audit-runner-and-features',
    severity: 'error',
    comment:
      "src/infra (the control plane's own database, Redis, metrics registry) is used by audit, the runner and the " +
      'features, and knows none of them. Feature entities are listed in src/app.entities.ts, not in infra.',
    from: { path: '^src/infra/' },
    to: { path: '^src/(audit|procedures|modules)/' },
  },
  {
    name: 'audit-below-runner-and-features',
    severity: 'error',
    comment:
      'src/audit records what the runner, the guards and the features do, so it must not import them: ' +
      'they call AuditService, never the other way round.',
    from: { path: '^src/audit/' },
    to: { path: '^src/(procedures|modules)/' },
  },
  {
    name: 'runner-below-features',
    severity: 'error',
    comment:
      'src/procedures (the runner) runs procedures that features register; it must not import a feature. ' +
      'Features hand their procedures to the ProcedureRegistry; shared vocabulary goes into src/procedures or lower.',
    from: { path: '^src/procedures/' },
    to: { path: '^src/modules/' },
  },
  {
    name: 'transport-on-top',
    severity: 'error',
    comment:
      'Guards, interceptors, HTTP and GraphQL setup, the CLI and the app module are the top layer: services, ' +
      'the runner, adapters and infra must not import them. Move what both need (e.g. identity, the rights ' +
      'vocabulary) into src/common.',
    from: { path: BELOW_TRANSPORT, pathNot: ROUTE_FILES },
    to: { path: TRANSPORT },
  },
  {
    name: 'routes-use-only-decorators-of-transport',
    severity: 'error',
    comment:
      'A controller, resolver or DTO inside a lower folder may take the @Right decorator (guards/right.decorator.ts), ' +
      'an interceptor (src/interceptors/) and the JSON scalar (graphql/json.scalar.ts) from the transport layer, and ' +
      'nothing else: the guards, the HTTP and GraphQL setup and the app module are wired globally, not per route.',
    from: { path: BELOW_TRANSPORT },
    to: {
      path: TRANSPORT,
      pathNot: ['^src/guards/right\\.decorator\\.ts$', '^src/interceptors/', '^src/graphql/json\\.scalar\\.ts$'],
    },
  },
  {
    name: 'controllers-and-resolvers-are-entry-points',
    severity: 'error',
    comment:
      'Controllers and resolvers are entry points: only a Nest *.module.ts (or another route file) imports them. ' +
      'A service that needs their logic should call the service they call, or the piece moves into the service.',
    from: { path: BELOW_TRANSPORT, pathNot: [...ROUTE_FILES, '\\.module\\.ts$'] },
    to: { path: '\\.(controller|resolver)\\.ts$' },
  },
  {
    name: 'feature-reaches-into-another-feature',
    severity: 'error',
    comment:
      "A feature uses another feature only through that feature's *.service.ts, its *.module.ts or its public.ts, " +
      'never its entities, procedures or helpers. Export what you need from the service or public.ts, or move a ' +
      'shared piece down a layer.',
    from: { path: '^src/modules/([^/]+)/' },
    to: { path: '^src/modules/', pathNot: ['^src/modules/$1/', ...FEATURE_PUBLIC_FILES] },
  },
  {
    name: 'procedures-do-not-read-the-runners-tables',
    severity: 'error',
    comment:
      "A procedure's steps learn who asked and what earlier steps returned from their StepContext " +
      '(ctx.requester, ctx.outputOf, ctx.earlier), never by reading the runs and steps tables.',
    from: { path: '^src/modules/[^/]+/(procedures/|[^/]*procedures?\\.ts$|[^/]*\\.procedure\\.ts$)' },
    to: { path: '^src/procedures/(run\\.entity|run-records|runner\\.service)\\.ts$' },
  },
  {
    name: 'only-adapters-talk-to-the-outside',
    severity: 'error',
    comment:
      'Only src/integrations/<system>/ uses the clients of the ERP stack (dockerode, pg, Elasticsearch, nodemailer, ' +
      "child processes); src/infra may use pg for the control plane's own database. Add a typed method to the adapter.",
    from: { path: '^src/', pathNot: '^src/(integrations|infra)/' },
    to: { path: ['^(node:)?child_process$', 'node_modules/(dockerode|pg|@elastic/elasticsearch|nodemailer)/'] },
  },
];

module.exports = {
  forbidden: rules.flatMap(withExceptions),
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
