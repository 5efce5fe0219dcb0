/**
 * The import rules of the house (docs/ARCHITECTURE.md draws them). `npm run lint` and the
 * static-checks test run dependency-cruiser with this file; a wrong import fails with the
 * name of the rule it breaks.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two folders depend on each other: move the shared part down a layer.',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
