// Takes the README screenshots: `node screenshot.mjs BASE_URL OUT_DIR`.
import { chromium } from '@playwright/test';
const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`${base}/login`);
await page.getByLabel('Username').fill('annotator');
await page.getByLabel('Password').fill('demo-annotator-password');
await page.getByRole('button', { name: 'Log in' }).click();
await page.goto(`${base}/annotate/demo`);
await page.waitForFunction(() => window.__arbiter_hydrated === true);
await page.keyboard.press('3');
await page.screenshot({ path: `${out}/annotator.png`, fullPage: true });
await browser.close();
