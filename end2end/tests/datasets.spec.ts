import { ADMIN, expect, hydrated, login, test, unique } from './helpers';

test('an admin uploads a preference set in the browser, sees the upload progress, then the report', async ({ page, request }) => {
  const slug = unique('up');
  const r = await request.post('/login', { form: ADMIN, maxRedirects: 0 });
  expect(r.status()).toBe(303);
  expect((await request.post('/api/v1/projects', { data: { slug, title: `Upload ${slug}` } })).status()).toBe(201);

  // A TRL file of 3,000 rows (about 1 MB), one of them bad.
  const rows = Array.from({ length: 3000 }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}? ${'context '.repeat(30)}`, chosen: `Answer A ${i} ${'a'.repeat(100)}`, rejected: `Answer B ${i}` }),
  );
  rows[41] = '{"prompt": "broken"';
  const file = { name: 'prefs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(rows.join('\n') + '\n') };

  await login(page, ADMIN.username, ADMIN.password);
  await page.goto(`/admin/projects/${slug}`);
  await hydrated(page);
  // Hold the answer back a moment so the progress shown meanwhile can be seen.
  await page.route('**/import', async (route) => {
    await new Promise((res) => setTimeout(res, 800));
    await route.continue();
  });
  const form = page.getByTestId('import-form');
  await form.getByLabel('Format').selectOption('trl');
  await form.getByLabel('Skip bad lines').check();
  await form.getByLabel('File to import').setInputFiles(file);
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(page.getByTestId('upload-progress')).toBeVisible();
  await expect(page.getByTestId('upload-progress').locator('progress')).toHaveAttribute('value', /\d/);

  const report = page.getByTestId('import-report');
  await expect(report).toContainText('Imported 2999 lines (trl): 2999 new prompts', { timeout: 30_000 });
  await expect(report).toContainText('1 bad lines skipped');
  await expect(report).toContainText('line 42');
  await expect(page).toHaveURL(new RegExp(`/admin/projects/${slug}\\?import=`));
});
