import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 *  - unit:        colocated `*.test.ts` next to the sources in packages/ and apps/.
 *  - integration: tests/**\/*.test.ts — real processes (PostgreSQL, Caddy, ...), see tests/helpers/.
 *
 * `npm test` runs both (unit first, then integration: integration has sequence.groupOrder 1,
 * which is also what lets it use its own maxWorkers — vitest refuses projects with different
 * maxWorkers in the same group). Select one with `--project unit|integration`.
 */
const exclude = ['**/node_modules/**', '**/dist/**', '**/.tmp/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['packages/**/src/**/*.test.ts', 'apps/**/src/**/*.test.ts'],
          exclude,
        },
      },
      {
        test: {
          name: 'integration',
          environment: 'node',
          include: ['tests/**/*.test.ts'],
          exclude,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // 2-core machine; every file may start servers (PostgreSQL, Caddy, agents).
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
