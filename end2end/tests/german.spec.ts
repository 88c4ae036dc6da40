import { ADMIN, hydrated, plainItems, setup, test, expect } from './helpers';

test('the German interface end to end: log in, annotate with the keyboard, history, back to English', async ({ browser, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'de'), 1);
  const context = await browser.newContext({ locale: 'de-DE' });
  const page = await context.newPage();
  await page.goto('/login');
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.getByRole('button', { name: 'Anmelden' })).toBeVisible();
  // The server's answer to a wrong password is German too.
  await page.getByLabel('Benutzername').fill(annotator.username);
  await page.getByLabel('Passwort').fill('not the password');
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await expect(page.getByRole('alert')).toHaveText('Benutzername oder Passwort falsch');
  await hydrated(page);
  await expect(page.getByRole('alert')).toHaveText('Benutzername oder Passwort falsch');
  await page.getByLabel('Benutzername').fill(annotator.username);
  await page.getByLabel('Passwort').fill(annotator.password);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await expect(page.getByRole('heading', { name: 'Deine Projekte' })).toBeVisible();

  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('0 erledigt · 2 offen');
  await expect(page.locator('legend')).toHaveText('Welche Antwort ist besser?');
  await expect(page.getByText('A viel besser')).toBeVisible();
  await page.keyboard.press('2');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('progress')).toHaveText('1 erledigt · 1 offen');
  await expect(page.getByTestId('save-status')).toHaveText('Gespeichert ✓');

  await page.getByRole('link', { name: 'Verlauf' }).click();
  await expect(page.getByRole('heading', { name: /Deine Urteile/ })).toBeVisible();
  await expect(page.getByTestId('history-item')).toContainText('A besser');
  await expect(page.getByRole('link', { name: 'Ändern' })).toBeVisible();

  // The switch keeps English for this user, whatever the browser says.
  await page.getByTestId('language-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('link', { name: 'Change' })).toBeVisible();
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('1 done · 1 to go');
  await context.close();
});

test('the admin pages in German', async ({ browser, request }) => {
  const { slug } = await setup(request, plainItems(1, 'de-admin'), 1);
  const context = await browser.newContext({ locale: 'de' });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Benutzername').fill(ADMIN.username);
  await page.getByLabel('Passwort').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await expect(page.getByRole('heading', { name: 'Deine Projekte' })).toBeVisible();
  await page.goto('/admin');
  await expect(page.getByRole('heading', { name: 'Neues Projekt' })).toBeVisible();
  await page.goto(`/admin/projects/${slug}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Einstellungen' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Herunterladen' })).toBeVisible();
  await page.goto('/admin/users');
  await expect(page.getByRole('button', { name: 'Einladungslink erzeugen' })).toBeVisible();
  await context.close();
});
