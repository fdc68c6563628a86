/** Runs once per `vitest run`: says which optional suites are not registered, and why. */
export default function setup(): void {
  if (!process.env.TEST_DATABASE_URL) {
    console.log('PostgreSQL suites skipped: TEST_DATABASE_URL is not set');
  }
}
