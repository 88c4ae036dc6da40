import { defineConfig } from '@playwright/test';
import * as os from 'os';
import * as path from 'path';
import * as fs from 'fs';

// One fresh database per run, served by the binary and site `scripts/build.sh`
// made (the site's two bundles: bundles.spec.ts needs the annotator's).
const port = Number(process.env.E2E_PORT || 3107);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arbiter-e2e-'));
const bin = process.env.ARBITER_BIN || '../target/debug/arbiter';
process.env.E2E_DATABASE = `sqlite://${dir}/e2e.db`;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  workers: 1,
  // A test that fails once is a bug users meet, never retried (docs/decisions.md).
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: `${bin} --database sqlite://${dir}/e2e.db serve --demo --addr 127.0.0.1:${port} --site-root ../target/site`,
    url: `http://127.0.0.1:${port}/login`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
